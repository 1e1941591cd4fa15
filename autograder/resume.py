"""``--resume``: which students an earlier run already recorded, from the same notebook and settings.

After each recording the grader writes, per student, a fingerprint of what was executed
(the repaired notebook and the settings that change a grade) and what the job reported
(events, isolation, worker) to ``.grading/<assignment>/recorded.json``. A run with
``--resume`` skips a student whose fingerprint matches *and* whose submission nbgrader's
gradebook holds, and reports the earlier job's events; everyone else is graded. This is
how a run cut short (the cluster's scheduler went away) is finished.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .job import JobResult
from .options import Options
from .outcomes import ExecutionEvent

LEDGER = "recorded.json"


def fingerprint(opts: Options, notebook: str) -> str:
    """What decides a grade besides the template: the repaired notebook and the grading settings.

    Cell ids are left out: nbformat makes up random ones for notebooks saved without them.
    """
    data = json.loads(notebook)
    cells = [{k: v for k, v in cell.items() if k != "id"} for cell in data.get("cells", [])]
    settings = [opts.cell_timeout, opts.memory_mb, opts.job_timeout, opts.train_size, opts.test_size, opts.epochs, opts.synthetic, opts.isolate]
    return hashlib.sha256(json.dumps([cells, data.get("metadata"), settings], sort_keys=True).encode()).hexdigest()


def _path(opts: Options) -> Path:
    return opts.workspace / LEDGER


def load(opts: Options) -> dict[str, dict]:
    try:
        data = json.loads(_path(opts).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(opts: Options, jobs: dict[str, tuple[str, JobResult]]) -> None:
    """Remember ``jobs`` (student -> (fingerprint, result)) as recorded."""
    data = load(opts)
    for student, (digest, job) in jobs.items():
        data[student] = {
            "fingerprint": digest,
            "events": [e.as_dict() for e in job.events],
            "isolation": job.isolation,
            "worker": job.worker,
            "seconds": job.seconds,
        }
    tmp = _path(opts).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, _path(opts))


def recorded_earlier(opts: Options, fingerprints: dict[str, str]) -> dict[str, JobResult]:
    """Of ``fingerprints`` (student -> fingerprint), the students recorded from the same one: their earlier jobs."""
    from nbgrader.api import Gradebook, MissingEntry

    ledger = load(opts)
    same = [s for s, digest in fingerprints.items() if ledger.get(s, {}).get("fingerprint") == digest]
    found: dict[str, JobResult] = {}
    if not same:
        return found
    with Gradebook(opts.db) as gb:
        for student in same:
            try:
                gb.find_submission_notebook(opts.assignment, opts.assignment, student)
            except MissingEntry:
                continue
            entry = ledger[student]
            events = [ExecutionEvent.from_dict(e) for e in entry.get("events", [])]
            found[student] = JobResult(student, None, events, entry.get("isolation", {}), float(entry.get("seconds", 0.0)), entry.get("worker", ""))
    return found
