"""Grading speed: seconds per submission against the notebook's own running time.

    python benchmarks/grading_benchmark.py --assignment B2-2 --n 10 --jobs 1 2
    python benchmarks/grading_benchmark.py --assignment B2-2 --n 100 --jobs 2
    python benchmarks/grading_benchmark.py --assignment B2-2 --n 20 --jobs 2 --cluster local:2

Grades N copies of a correct submission in a throw-away copy of the course (grading
mode, sandboxed kernels, recording and feedback included, as ``course-grade grade``
does) and prints seconds per submission. In the same run it measures the *warm-process
time*: the same notebook's cells (solution and hidden tests) run in a process forked
from one that has TensorFlow imported, with figures rendered as the kernel renders
them; the ratio of the two is the time spent around each notebook, and holds on a noisy
machine. Every copy must get full automatic marks (the script fails otherwise).

Targets for B2-2 on 2 cores: one worker <= 1.3x the warm-process time; two workers
<= 3.0 s per submission; 100 submissions <= 5 min with two workers. ``--cluster local:2``
adds a run on a Dask ``LocalCluster`` of two worker processes (``course-grade --cluster``)
after the ``--jobs`` runs: on one machine it should cost at most 15 % more per submission
than ``--jobs 2``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder import demo, pipeline  # noqa: E402
from autograder.environment import grader_env, kernel_env  # noqa: E402
from autograder.options import Options  # noqa: E402
from autograder.prepare import prepare  # noqa: E402


def _run_cells(sources: list[str], env: dict[str, str]) -> float:
    """In a forked child: run ``sources`` in an IPython shell; seconds taken."""
    os.environ.clear()
    os.environ.update(env, MPLBACKEND="Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    started = time.monotonic()
    for source in sources:
        result = shell.run_cell(source, silent=False)
        if result.error_in_exec is not None or result.error_before_exec is not None:
            raise RuntimeError(f"cell failed in the warm process:\n{source[:300]}")
        for number in plt.get_fignums():  # the kernel renders every figure as a PNG
            plt.figure(number).savefig(io.BytesIO(), format="png", dpi=50)
        plt.close("all")
    return time.monotonic() - started


def warm_seconds(assignment: str, env: dict[str, str], repeats: int = 3) -> float:
    """Median time of the source notebook's code cells in a warm forked process."""
    import IPython  # noqa: F401  (imported once, as the zygote does)
    import keras  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import tensorflow  # noqa: F401

    source = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    sources = [c.source for c in source.cells if c.cell_type == "code"]
    times = []
    for _ in range(repeats):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            code = 0
            try:
                seconds = _run_cells(sources, env)
                os.write(write, f"{seconds}".encode())
            except BaseException as exc:  # reported by the parent
                os.write(write, f"error {exc}".encode())
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read) as handle:
            answer = handle.read()
        os.waitpid(pid, 0)
        if answer.startswith("error") or not answer:
            raise SystemExit(f"warm-process run failed: {answer}")
        times.append(float(answer))
    return statistics.median(times)


def grade_copies(assignment: str, n: int, jobs: int, cluster: str | None = None) -> tuple[float, float, list[str], dict[str, float]]:
    """Seconds for grading ``n`` correct copies, kernel seconds each, who lost marks, mean seconds per job phase."""
    release = nbformat.read(REPO / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = demo._answer_sources(nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4))
    correct = demo.answered(release, answers)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        course.mkdir()
        for name in ("source", "release"):
            shutil.copytree(REPO / name, course / name)
        shutil.copy(REPO / "nbgrader_config.py", course)
        subs = tmp / "subs"
        subs.mkdir()
        for i in range(n):
            nbformat.write(correct, subs / f"b{i:03d}_{assignment}.ipynb")
        opts = Options(assignment, subs, course, out=tmp / "out", jobs=jobs, progress=False, cluster=cluster)
        opts.workspace.mkdir(parents=True)
        prepare(opts, grader_env())  # one-off per assignment: not timed
        started = time.monotonic()
        outcome = pipeline.grade(opts)
        total = time.monotonic() - started
    bad = [r.student for r in outcome.results if r.score != r.max_score - r.manual_pending]
    kernel = sum(r.seconds for r in outcome.results) / len(outcome.results)
    phases: dict[str, float] = {}
    for r in outcome.results:
        for phase, seconds in r.timings.items():
            phases[phase] = phases.get(phase, 0.0) + seconds / len(outcome.results)
    return total, kernel, bad, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="B2-2")
    parser.add_argument("--n", type=int, default=10, help="submissions to grade per run")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cluster", help="also grade on this Dask cluster, e.g. local:2 (pip install 'dl-course[cluster]')")
    args = parser.parse_args()
    a = args.assignment
    warm = warm_seconds(a, kernel_env(Options(a, Path("."), REPO, jobs=1)))
    print(f"{a}: warm-process time of the notebook (solution + hidden tests): {warm:.2f} s")
    print(f"{a}: {args.n} correct submissions per run, grading mode, sandboxed kernels, recording and feedback")
    label = "100 subs (min)" if args.n == 100 else "100 subs (min, extrap.)"
    print(f"{'workers':>7}  {'total s':>8}  {'s/submission':>12}  {'x warm':>6}  {'job s/submission':>16}  {label:>23}")
    failed = False
    runs: list[tuple[str, int, str | None]] = [(str(jobs), jobs, None) for jobs in args.jobs]
    if args.cluster:
        workers = int(args.cluster.split(":")[1]) if args.cluster.startswith("local:") else max(args.jobs)
        runs.append((args.cluster, workers, args.cluster))
    per_run: dict[str, float] = {}
    for label_run, workers, cluster in runs:
        total, kernel, bad, phases = grade_copies(a, args.n, workers, cluster)
        per = per_run[label_run] = total / args.n
        print(f"{label_run:>7}  {total:>8.1f}  {per:>12.2f}  {per * workers / warm:>6.2f}  {kernel:>16.2f}  {100 * per / 60:>23.1f}")
        if phases:
            print("         a job's phases (mean s): " + ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in phases.items()))
        if bad:
            failed = True
            print(f"         not full marks: {', '.join(bad)}")
    if args.cluster and str(max(args.jobs)) in per_run:
        base = per_run[str(max(args.jobs))]
        print(f"{args.cluster} vs --jobs {max(args.jobs)}: {per_run[args.cluster]:.2f} vs {base:.2f} s per submission ({100 * (per_run[args.cluster] / base - 1):+.0f} %)")
    print("(x warm: wall seconds per submission x workers / warm-process seconds; 1.0 = no time around the notebook)")
    if failed:
        raise SystemExit("some copies of a correct submission lost marks")


if __name__ == "__main__":
    main()
