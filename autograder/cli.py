"""``course-grade``: build releases, grade handed-in notebooks, run the demo class."""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from collections import Counter
from pathlib import Path

from . import cluster, late, lms, options, pipeline, term_cli
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


def _unjudgeable(root: Path, assignments: list[str]) -> list[str]:
    """Tests of source/ that the trusted judge cannot judge (:mod:`.judgeable`)."""
    import nbformat

    from . import judgeable

    found = []
    for a in assignments:
        nb = nbformat.read(root / "source" / a / f"{a}.ipynb", as_version=4)
        found += [f"source/{a}: {problem}" for problem in judgeable.problems(nb)]
    return found


def cmd_release(args: argparse.Namespace) -> int:
    root = Path(args.course).resolve()
    assignments = args.assignments or pipeline.assignments(root)
    unjudgeable = _unjudgeable(root, assignments)
    if unjudgeable:
        print("tests that cannot be judged outside the student's kernel (see README, Isolation):\n  " + "\n  ".join(unjudgeable))
        return 1
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
        lms=getattr(args, "lms", None),
        lms_timezone=getattr(args, "lms_timezone", None),
        late=late.policy_from_args(args) if hasattr(args, "due") else None,
        feedback_lang=getattr(args, "feedback_lang", options.default("feedback_lang")),
        cluster=getattr(args, "cluster", None),
        retries=getattr(args, "retries", options.RETRIES),
        resources=cluster.parse_resources(getattr(args, "resources", None)),
        allow_unisolated=getattr(args, "allow_unisolated", False),
        resume=getattr(args, "resume", False),
    )


def _report(outcome: pipeline.Outcome) -> None:
    print(pipeline.summary_table(outcome))
    for problem in outcome.ingest_problems:
        where = problem.get("file") or problem.get("student")
        detail = f" ({problem['detail']})" if problem.get("detail") else ""
        print(f"  ingest: {where}: {problem['problem']}{detail}")
    iso = outcome.isolation or {}
    if iso:
        memory = (iso.get("limits") or {}).get("memory", "rss watchdog")
        print(
            f"  isolation: namespaces={iso.get('namespaces')} pid_namespace={iso.get('pid_namespace')} uid={iso.get('uid')} "
            f"network={iso.get('network')} filesystem={iso.get('filesystem')} memory={memory} hidden={len(iso.get('hidden', []))} paths"
        )
        if iso.get("errors"):
            print(f"  isolation errors: {'; '.join(iso['errors'])}")
    workers = Counter(r.worker for r in outcome.results if r.worker)
    if workers:
        print("  graded per worker: " + ", ".join(f"{name}: {n}" for name, n in sorted(workers.items())))
    print(f"  {len(outcome.results)} submissions in {outcome.seconds:.0f} s -> {outcome.out}")


def cmd_grade(args: argparse.Namespace) -> int:
    submissions = Path(args.submissions)
    if not submissions.exists():
        print(f"error: {submissions} does not exist (give a folder or a zip of .ipynb files)", file=sys.stderr)
        return 2
    try:
        outcome = pipeline.grade(_options(args, args.assignment, submissions, Path(args.out) if args.out else None))
    except (pipeline.GradingError, RosterError, late.LateError, cluster.ClusterError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _report(outcome)
    return 0


#: the demo term: B1-1 handed in through Sakai (Hoppii), due 1 December 23:59 JST, 10 % per started day late
DEMO_TERM = {
    "assignment": "B1-1",
    "download": "demo/lms/sakai/B1-1/bulk_download.zip",
    "late": ["--due", "2026-12-01T23:59+09:00", "--late-penalty", "10%/day", "--late-cap", "50%"],
}


def cmd_demo(args: argparse.Namespace) -> int:
    """Grade every demo class, then run an instructor's term loop on the Sakai download."""
    root = Path(args.course).resolve()
    demo = root / "demo" / "submissions"
    assignments = args.assignments or sorted(p.name for p in demo.iterdir() if p.is_dir())
    for a in assignments:
        print(f"\n== {a} ==")
        outcome = pipeline.grade(_options(args, a, demo / a, root / "grading-output" / a))
        _report(outcome)
    if args.assignments and DEMO_TERM["assignment"] not in args.assignments:
        return 0
    a = DEMO_TERM["assignment"]
    out = root / "grading-output" / f"{a}-sakai"
    print(f"\n== {a} from the Sakai download: grade, export, class report, similarity ==")
    term = [a, "--course", str(root), "--out", str(out)]
    grade_args = [*term[:1], str(root / DEMO_TERM["download"]), *term[1:], *DEMO_TERM["late"], "--jobs", str(args.jobs), "--no-progress"]
    for argv in (
        ["grade", *grade_args],
        ["export", *term, "--lms", "sakai", "--download", str(root / DEMO_TERM["download"]), *DEMO_TERM["late"]],
        ["report", *term, *DEMO_TERM["late"]],
        ["similarity", *term],
    ):
        code = main(argv)
        if code != 0:
            return code
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


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("grading on several machines (pip install 'dl-course[cluster]'; see the README)")
    g.add_argument(
        "--cluster",
        help="execute the notebooks on a Dask cluster: local:N (N worker processes here), tcp://HOST:PORT or tls://HOST:PORT (a running scheduler)",
    )
    g.add_argument("--retries", type=int, default=options.RETRIES, help="times a job is started again after its worker died (default %(default)s)")
    g.add_argument("--resources", nargs="+", metavar="NAME=AMOUNT", help="worker resources each job needs, e.g. GPU=1")
    g.add_argument("--allow-unisolated", action="store_true", help="let workers that cannot sandbox kernels grade (student code runs unsandboxed there)")
    g.add_argument("--resume", action="store_true", help="skip students already recorded from the same notebook and settings (finish a run that was cut short)")


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
    p.add_argument("--lms", choices=[kind.value for kind in lms.Lms], help="the LMS the download comes from (default: recognised from its layout)")
    p.add_argument("--lms-timezone", help="time zone of times the LMS writes without one (Moodle's zip), e.g. Asia/Tokyo")
    p.add_argument("--feedback-lang", choices=["ja", "en"], default=options.default("feedback_lang"), help="language of the feedback pages (default %(default)s)")
    late.add_arguments(p)
    _add_run_options(p)
    _add_cluster_options(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="grade the demo class in demo/submissions and print the tables")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all demo folders)")
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)
    term_cli.add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
