"""``course-grade``: build releases, grade handed-in notebooks, run the demo class."""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from . import options, pipeline
from .environment import grader_env
from .ingest import RosterError
from .nbconfig import Stage, nbgrader_config
from .nbgrader_runs import Converter, convert
from .options import Options

REPO = Path(__file__).resolve().parents[1]


def _generate(root: Path, assignments: list[str], release_dir: Path) -> None:
    """nbgrader generate_assignment for each assignment, output in ``release_dir``."""
    release_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "generate.log"
        for a in assignments:
            opts = Options(assignment=a, submissions=Path(tmp), course_root=root)
            done = convert(Converter.GENERATE_ASSIGNMENT, nbgrader_config(opts, Stage.RELEASE, release_dir=release_dir), log=log, env=grader_env())
            if done.exitcode != 0:
                raise SystemExit(f"nbgrader generate_assignment {a} failed:\n{log.read_text(errors='replace')}")


def cmd_release(args: argparse.Namespace) -> int:
    root = Path(args.course).resolve()
    assignments = args.assignments or pipeline.assignments(root)
    if not args.check:
        _generate(root, assignments, root / "release")
        for path in (root / "release").rglob("*.ipynb"):
            path.chmod(0o444)  # generated: edit source/, never release/
        print(f"release/ rebuilt for {', '.join(assignments)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "release"
        _generate(root, assignments, fresh)
        stale = []
        for a in assignments:
            cmp = filecmp.dircmp(fresh / a, root / "release" / a) if (root / "release" / a).is_dir() else None
            if cmp is None:
                stale.append(f"release/{a} is missing")
                continue
            stale += [f"release/{a}/{n} differs" for n in filecmp.cmpfiles(fresh / a, root / "release" / a, cmp.common_files, shallow=False)[1]]
            stale += [f"release/{a}/{n} is missing" for n in cmp.left_only]
            stale += [f"release/{a}/{n} should not be there" for n in cmp.right_only]
    if stale:
        print("release/ is out of date with source/ (run: course-grade release):\n  " + "\n  ".join(stale))
        return 1
    print(f"release/ matches source/ for {', '.join(assignments)}")
    return 0


def _options(args: argparse.Namespace, assignment: str, submissions: Path, out: Path | None) -> Options:
    return Options(
        assignment=assignment,
        submissions=submissions,
        course_root=Path(args.course).resolve(),
        out=out,
        jobs=args.jobs,
        roster=Path(args.roster) if getattr(args, "roster", None) else None,
        id_pattern=getattr(args, "id_pattern", options.ID_PATTERN),
        students=set(args.student) if getattr(args, "student", None) else None,
        db_url=args.db_url,
        cell_timeout=args.cell_timeout,
        memory_mb=args.memory_mb,
        job_timeout=args.job_timeout,
        train_size=args.train_size,
        test_size=args.test_size,
        epochs=args.epochs,
        isolate=not args.no_isolation,
        zygote=not args.no_zygote,
        progress=not args.no_progress,
    )


def _report(outcome: pipeline.Outcome) -> None:
    print(pipeline.summary_table(outcome))
    for problem in outcome.ingest_problems:
        where = problem.get("file") or problem.get("student")
        detail = f" ({problem['detail']})" if problem.get("detail") else ""
        print(f"  ingest: {where}: {problem['problem']}{detail}")
    iso = outcome.isolation or {}
    if iso:
        print(f"  isolation: namespaces={iso.get('namespaces')} uid={iso.get('uid')} network={iso.get('network')} hidden={len(iso.get('hidden', []))} paths")
    print(f"  {len(outcome.results)} submissions in {outcome.seconds:.0f} s -> {outcome.out}")


def cmd_grade(args: argparse.Namespace) -> int:
    submissions = Path(args.submissions)
    if not submissions.exists():
        print(f"error: {submissions} does not exist (give a folder or a zip of .ipynb files)", file=sys.stderr)
        return 2
    try:
        outcome = pipeline.grade(_options(args, args.assignment, submissions, Path(args.out) if args.out else None))
    except (pipeline.GradingError, RosterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _report(outcome)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.course).resolve()
    demo = root / "demo" / "submissions"
    assignments = args.assignments or sorted(p.name for p in demo.iterdir() if p.is_dir())
    for a in assignments:
        print(f"\n== {a} ==")
        outcome = pipeline.grade(_options(args, a, demo / a, root / "grading-output" / a))
        _report(outcome)
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", default=str(REPO), help="course directory (source/, release/, nbgrader_config.py); default: this repository")
    d = options.default
    p.add_argument("--jobs", "-j", type=int, default=d("jobs"), help="submissions executed at once (default %(default)s)")
    p.add_argument("--db-url", help="gradebook URL for nbgrader, e.g. postgresql://user@host/db (default: sqlite gradebook.db)")
    p.add_argument("--cell-timeout", type=int, default=d("cell_timeout"), help="seconds a cell may run (default %(default)s)")
    p.add_argument("--memory-mb", type=int, default=d("memory_mb"), help="memory a notebook's kernel may use (default %(default)s)")
    p.add_argument("--job-timeout", type=int, default=d("job_timeout"), help="seconds a whole notebook may take (default %(default)s)")
    p.add_argument("--train-size", type=int, default=d("train_size"), help="training samples per dataset in grading mode (default %(default)s)")
    p.add_argument("--test-size", type=int, default=d("test_size"), help="test samples per dataset in grading mode (default %(default)s)")
    p.add_argument("--epochs", type=int, default=d("epochs"), help="epochs per training cell in grading mode (default %(default)s)")
    p.add_argument("--no-isolation", action="store_true", help="run kernels without the sandbox (debugging only)")
    p.add_argument(
        "--no-zygote",
        action="store_true",
        help="start every kernel as a new process instead of forking one with TensorFlow imported (slower; debugging only)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course-grade",
        description="Build nbgrader releases and grade handed-in notebooks of the deep-learning course.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="generate release/ from source/ with nbgrader (or --check it is in sync)")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all in source/)")
    p.add_argument("--check", action="store_true", help="fail if release/ differs from a fresh generation")
    p.add_argument("--course", default=str(REPO), help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("grade", help="grade a folder or zip of handed-in notebooks")
    p.add_argument("assignment", help="assignment id, e.g. B2-2")
    p.add_argument("submissions", help="folder or .zip of .ipynb files (LMS download, Colab files)")
    p.add_argument("--out", help="output folder (default: grading-output/<assignment>)")
    p.add_argument("--roster", help="CSV roster exported from the LMS or Excel (id column headed e.g. 'Student ID', '学籍番号', 'ID', 'EID', 'Username'; UTF-8 or Shift_JIS): student ids are looked up in file and folder names")
    p.add_argument("--id-pattern", default=options.ID_PATTERN, help="regex with a (?P<student>...) group, applied to file names (default: text before the first '_')")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    _add_run_options(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="grade the demo class in demo/submissions and print the tables")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all demo folders)")
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
