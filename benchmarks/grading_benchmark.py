"""Grading speed: seconds per submission and the total for N submissions, 1 and 2 workers.

    python benchmarks/grading_benchmark.py --assignment B2-2 --n 10 --jobs 1 2
    python benchmarks/grading_benchmark.py --assignment B2-2 --n 100 --jobs 2

Grades N copies of a correct submission in a throw-away copy of the course (grading
mode, sandboxed kernels, as `course-grade grade` does) and prints its figures; with
N != 100 the 100-submission total is extrapolated from the measured throughput. Targets
for B2-2 on 2 cores: <= 20 s per submission, 100 submissions <= 15 min with 2 workers.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder import demo, pipeline  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="B2-2")
    parser.add_argument("--n", type=int, default=10, help="submissions to grade per run")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    a = args.assignment
    release = nbformat.read(REPO / "release" / a / f"{a}.ipynb", as_version=4)
    answers = demo._answer_sources(nbformat.read(REPO / "source" / a / f"{a}.ipynb", as_version=4))
    correct = demo.answered(release, answers)
    print(f"{a}: {args.n} correct submissions per run, grading mode, sandboxed kernels")
    label = "100 subs (min)" if args.n == 100 else "100 subs (min, extrap.)"
    print(f"{'workers':>7}  {'total s':>8}  {'s/submission (wall)':>19}  {'kernel s/submission':>19}  {label:>23}")
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            course = tmp / "course"
            course.mkdir()
            for name in ("source", "release"):
                shutil.copytree(REPO / name, course / name)
            shutil.copy(REPO / "nbgrader_config.py", course)
            subs = tmp / "subs"
            subs.mkdir()
            for i in range(args.n):
                nbformat.write(correct, subs / f"b{i:03d}_{a}.ipynb")
            opts = pipeline.Options(a, subs, course, out=tmp / "out", jobs=jobs, progress=False)
            workspace = course / ".grading" / a
            workspace.mkdir(parents=True)
            pipeline.prepare(opts, workspace, pipeline._base_env(opts))  # one-off per assignment: not timed
            started = time.monotonic()
            outcome = pipeline.grade(opts)
            total = time.monotonic() - started
            bad = [r.student for r in outcome.results if r.score != r.max_score - r.manual_pending]
            kernel = sum(r.seconds for r in outcome.results) / len(outcome.results)
            per = total / args.n
            print(f"{jobs:>7}  {total:>8.1f}  {per:>19.1f}  {kernel:>19.1f}  {100 * per / 60:>23.1f}")
            if bad:
                print(f"         (not full marks: {', '.join(bad)})")


if __name__ == "__main__":
    main()
