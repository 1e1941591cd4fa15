"""Run a course notebook at full size and write a results table.

    python benchmarks/full_size.py source/B2-3/B2-3.ipynb [--out results/B2-3.md] [--timeout 7200]

Executes the notebook with nbclient outside grading mode (all data, all epochs), after a
hidden first cell that wraps ``keras.Model.fit`` and ``evaluate`` to log every training
run: parameters, epochs, seconds per epoch, and the test loss/accuracy of the next
``evaluate`` of the same model. Nothing in the notebook has to cooperate. Writes a
Markdown table and the raw JSON next to it, and the executed notebook for inspection.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PROBE = r'''
import json as _json, time as _time, keras as _keras
_RUNS, _LOG = [], {log!r}

class _EpochClock(_keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self._t = _time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.times.append(_time.perf_counter() - self._t)

_fit, _evaluate = _keras.Model.fit, _keras.Model.evaluate

def _logged_fit(self, *args, **kwargs):
    clock = _EpochClock(); clock.times = []
    kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [clock]
    history = _fit(self, *args, **kwargs)
    _RUNS.append({{"model": self.name, "params": int(self.count_params()), "epochs": len(clock.times),
                   "s_per_epoch": sum(clock.times) / max(1, len(clock.times)), "test_loss": None, "test_accuracy": None}})
    _save()
    return history

def _logged_evaluate(self, *args, **kwargs):
    result = _evaluate(self, *args, **kwargs)
    for run in reversed(_RUNS):
        if run["model"] == self.name and run["test_accuracy"] is None:
            values = result if isinstance(result, (list, tuple)) else [result]
            run["test_loss"] = float(values[0])
            run["test_accuracy"] = float(values[1]) if len(values) > 1 else None
            break
    _save()
    return result

def _save():
    with open(_LOG, "w") as f:
        _json.dump(_RUNS, f, indent=1)

_keras.Model.fit, _keras.Model.evaluate = _logged_fit, _logged_evaluate
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, help="Markdown table (default: results/<name>.md)")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    parser.add_argument("--grading-mode", action="store_true", help="small data and epochs (a quick check of this script)")
    args = parser.parse_args()
    name = args.notebook.stem
    out = args.out or Path("results") / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".json").resolve()

    nb = nbformat.read(args.notebook, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import keras" in c.source)
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(PROBE.format(log=str(log))))
    os.environ["COURSE_GRADING_MODE"] = "1" if args.grading_mode else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(args.notebook.parent)}})
    client.execute()
    minutes = (time.monotonic() - started) / 60
    nbformat.write(nb, out.with_suffix(".ipynb"))
    errors = [(i, o.get("ename")) for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]

    runs = json.loads(log.read_text()) if log.is_file() else []
    lines = [
        f"# {name} " + ("in grading mode (script check only)" if args.grading_mode else "at full size"),
        "",
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; whole notebook {minutes:.0f} min"
        + (f"; cells with errors: {errors}" if errors else ""),
        "",
        "| model | parameters | epochs | s / epoch | test loss | test accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        acc = "-" if run["test_accuracy"] is None else f"{100 * run['test_accuracy']:.2f} %"
        loss = "-" if run["test_loss"] is None else f"{run['test_loss']:.4f}"
        lines.append(f"| {run['model']} | {run['params']:,} | {run['epochs']} | {run['s_per_epoch']:.1f} | {loss} | {acc} |")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(out.read_text())
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
