"""From a folder or zip of handed-in notebooks to grades, feedback and a problem report.

1. prepare: ``nbgrader generate_assignment`` into a private template course (its own
   SQLite gradebook) and into the main gradebook (release written to the workspace, not
   over the committed release/);
2. ingest (:mod:`.ingest`), parse and repair (:mod:`.repair`), review code (:mod:`.checks`);
3. execute: every submission runs ``nbgrader autograde`` in its own job folder, with a copy
   of the template gradebook (no shared SQLite file, so no "database is locked"), the
   hardened executor (:mod:`.execute`) and the sandboxed kernel; ``--jobs`` run at once.
   Imports are paid once per run, not per submission: nbgrader processes fork from a
   multiprocessing forkserver that has nbgrader imported, kernels from the zygote
   (:mod:`.zygote`) that has TensorFlow imported;
4. record: one ``nbgrader autograde`` over all executed notebooks into the main gradebook
   (SQLite or ``--db-url``), with execution switched off: nbgrader's own checksum, cell
   overwrite and score saving, run by a single writer;
5. ``nbgrader generate_feedback`` with hidden tests removed, then grades.csv,
   grades_by_test.csv, report.json and feedback/ in the output folder.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import checks, zygote
from .execute import KERNEL_NAME
from .ingest import DEFAULT_ID_PATTERN, ingest, read_roster
from .repair import InvalidSubmission, read_submission, repair

PUBLIC_ENTRIES = {"course_utils", "autograder", "release", "README.md", "pyproject.toml", "nbgrader_config.py", "LICENSE"}
FIRST_SANDBOX_UID = 61000
TF_LOG_PATTERN = r"(absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS|rebuild TensorFlow|tensorflow/core|E0000|I0000|W0000)"


class GradingError(RuntimeError):
    """The assignment cannot be graded at all (unknown assignment, nbgrader missing)."""


@dataclass
class Options:
    assignment: str
    submissions: Path
    course_root: Path
    out: Path | None = None
    jobs: int = 1
    roster: Path | None = None
    id_pattern: str = DEFAULT_ID_PATTERN
    students: set[str] | None = None
    db_url: str | None = None
    cell_timeout: int = 60
    memory_mb: int = 3072
    job_timeout: int = 900
    train_size: int = 256
    test_size: int = 128
    epochs: int = 1
    synthetic: str = "missing"
    isolate: bool = True
    zygote: bool = True
    progress: bool = True


@dataclass
class StudentResult:
    student: str
    origin: str
    status: str = "graded"
    score: float = 0.0
    max_score: float = 0.0
    manual_pending: float = 0.0
    tests: dict[str, list[float]] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def problem_summary(self) -> str:
        items = list(self.problems)
        items += [f"repaired: {r}" for r in self.repairs]
        items += [f"review: {f}" for f in self.findings]
        return "; ".join(items)


@dataclass
class Outcome:
    results: list[StudentResult]
    ingest_problems: list[dict]
    isolation: dict
    out: Path
    seconds: float


# --------------------------------------------------------------------------- helpers


NBGRADER_PRELOAD = [
    "nbgrader.apps.nbgraderapp",
    "nbgrader.preprocessors",
    "nbconvert.exporters",
    "autograder.execute",
    "autograder.feedback",
]


def _nbgrader_child(args: list[str], cwd: str, env: dict[str, str], log: str) -> None:
    """In a process forked from the forkserver: run one nbgrader command."""
    os.setsid()  # its own process group, so a timeout kills everything it started
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    if env.get("PYTHONWARNINGS") == "ignore":  # read only when an interpreter starts
        import warnings

        warnings.simplefilter("ignore")
    sys.argv = ["nbgrader", *args]
    from nbgrader.apps.nbgraderapp import NbGraderApp

    try:
        NbGraderApp.launch_instance(argv=args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _forkserver():
    """A multiprocessing context whose processes fork from one that imported nbgrader.

    Importing nbgrader takes about 3 s of CPU; every submission needs one nbgrader run,
    and this pays the import once. Unavailable (spawned processes instead) only where
    the platform lacks fork.
    """
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:
        return None
    ctx.set_forkserver_preload(NBGRADER_PRELOAD)
    return ctx


def _nbgrader(args: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: int | None = None) -> int:
    ctx = _forkserver()
    if ctx is None:
        return _nbgrader_subprocess(args, cwd, env, log, timeout)
    proc = ctx.Process(target=_nbgrader_child, args=(args, str(cwd), env, str(log)), name=f"nbgrader {args[0]}")
    try:
        proc.start()
    except Exception as exc:  # no forkserver here: slower, not broken
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"[course-grade] forkserver unavailable ({exc!r}); running nbgrader as a new process\n")
        return _nbgrader_subprocess(args, cwd, env, log, timeout)
    proc.join(timeout)
    if proc.exitcode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.join()
        return -9
    return proc.exitcode


def _nbgrader_subprocess(args: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: int | None = None) -> int:
    with open(log, "ab") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -9


def _config_file(path: Path, course_config: Path, root: Path, extra: str) -> None:
    path.write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(course_config)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n" + extra,
        encoding="utf-8",
    )


def _source_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _base_env(opts: Options) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // max(1, opts.jobs)))
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONWARNINGS="ignore",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        COURSE_GRADING_MODE="1",
        COURSE_GRADING_TRAIN_SIZE=str(opts.train_size),
        COURSE_GRADING_TEST_SIZE=str(opts.test_size),
        COURSE_GRADING_EPOCHS=str(opts.epochs),
        COURSE_SYNTHETIC_DATA=opts.synthetic,
        OMP_NUM_THREADS=threads,
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS="1",
    )
    keras_cache = Path(env.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    if "COURSE_DATA_DIR" not in env and keras_cache.is_dir():
        env["COURSE_DATA_DIR"] = str(keras_cache)  # the sandbox gets HOME elsewhere
    env.pop("JUPYTER_PATH", None)
    return env


# --------------------------------------------------------------------------- prepare


def assignments(root: Path) -> list[str]:
    """Assignment ids with a source notebook source/<id>/<id>.ipynb."""
    return sorted(p.name for p in (root / "source").glob("*") if (p / f"{p.name}.ipynb").is_file())


def require_assignment(root: Path, a: str) -> None:
    if not (root / "source" / a / f"{a}.ipynb").is_file():
        raise GradingError(f"no source notebook source/{a}/{a}.ipynb in {root}; assignments: {', '.join(assignments(root)) or 'none'}")


def prepare(opts: Options, workspace: Path, env: dict[str, str]) -> tuple[Path, nbformat.NotebookNode]:
    """Template course with gradebook; main gradebook knows the assignment."""
    a, root = opts.assignment, opts.course_root
    require_assignment(root, a)
    source = root / "source" / a
    template = workspace / "template"
    stamp = template / ".source-hash"
    digest = _source_hash(source)
    if not (stamp.is_file() and stamp.read_text() == digest and (template / "gradebook.db").is_file()):
        shutil.rmtree(template, ignore_errors=True)
        (template / "source").mkdir(parents=True)
        shutil.copytree(source, template / "source" / a)
        _config_file(template / "nbgrader_config.py", root / "nbgrader_config.py", template, "")
        code = _nbgrader(["generate_assignment", a, "--force"], template, env, workspace / "prepare.log")
        if code != 0:
            raise GradingError(f"nbgrader generate_assignment failed for {a}; see {workspace / 'prepare.log'}")
        stamp.write_text(digest)
    extra = f"c.CourseDirectory.release_directory = {str(workspace.relative_to(root) / 'release')!r}\n"
    if opts.db_url:
        extra += f"c.CourseDirectory.db_url = {opts.db_url!r}\n"
    main_cfg = workspace / "main-config"
    main_cfg.mkdir(exist_ok=True)
    _config_file(main_cfg / "nbgrader_config.py", root / "nbgrader_config.py", root, extra)
    code = _nbgrader(["generate_assignment", a, "--force"], main_cfg, env, workspace / "prepare.log")
    if code != 0:
        log = (workspace / "prepare.log").read_text(errors="replace")
        if "because there are submissions associated with it" in log:
            raise GradingError(
                f"source/{a} has other graded cells than when its submissions were graded, and nbgrader "
                f"cannot change an assignment that has submissions in the gradebook. Revert the change to "
                f"source/{a}, or drop the old grades first (nbgrader db assignment remove {a} --force, "
                f"or delete gradebook.db) and grade everyone again."
            )
        raise GradingError(f"registering {a} in the main gradebook failed; see {workspace / 'prepare.log'}")
    release = nbformat.read(template / "release" / a / f"{a}.ipynb", as_version=4)
    return template, release


# --------------------------------------------------------------------------- execute


def _sandbox_paths(opts: Options, workspace: Path) -> tuple[list[str], list[str]]:
    root = opts.course_root.resolve()
    hide = [str(p) for p in sorted(root.iterdir()) if p.name not in PUBLIC_ENTRIES and not p.name.endswith(".egg-info")]
    for extra in (workspace, opts.submissions, opts.out):
        if extra is not None:
            extra = Path(extra).resolve()
            if not str(extra).startswith(str(root) + os.sep):
                hide.append(str(extra))
    needed = {sys.base_prefix, sys.prefix, sys.exec_prefix}
    needed |= {p for p in sys.path if p and os.path.isdir(p)}
    if "COURSE_DATA_DIR" in os.environ:
        needed.add(os.environ["COURSE_DATA_DIR"])
    keras_cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    if keras_cache.is_dir():
        needed.add(str(keras_cache))
    # keep only outermost needed paths
    ordered = sorted(needed, key=len)
    outer = [p for i, p in enumerate(ordered) if not any(p.startswith(q.rstrip(os.sep) + os.sep) for q in ordered[:i])]
    return hide, outer


def _run_job(
    opts: Options,
    workspace: Path,
    template: Path,
    student: str,
    notebook: nbformat.NotebookNode,
    slots: queue.Queue[int],
    env: dict[str, str],
    sandbox_base: Path,
    forker: zygote.Zygote | None = None,
) -> tuple[Path | None, dict, float]:
    a = opts.assignment
    job = workspace / "jobs" / student
    shutil.rmtree(job, ignore_errors=True)
    course = job / "course"
    (course / "source").mkdir(parents=True)
    shutil.copytree(template / "source" / a, course / "source" / a)
    shutil.copy(template / "gradebook.db", course / "gradebook.db")
    target = course / "submitted" / student / a / f"{a}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(notebook, target)

    slot = slots.get()
    started = time.monotonic()
    as_root = os.geteuid() == 0
    uid = FIRST_SANDBOX_UID + slot
    sandbox = sandbox_base / f"slot{slot}-{student}"
    try:
        sandbox.mkdir(mode=0o700)
        mpl = _matplotlib_config(sandbox / ".matplotlib")
        if as_root and opts.isolate:
            for path in (sandbox, *mpl.rglob("*"), mpl):
                os.chown(path, uid, uid)
        hide, needed = _sandbox_paths(opts, workspace)
        if forker is not None:
            hide.append(forker.folder)
        status_file = sandbox / ".isolation.json"
        sandbox_cfg = {
            "workdir": str(sandbox),
            "status_file": str(status_file),
            "hide": hide,
            "needed": needed,
            "uid": uid if as_root else None,
            "gid": uid if as_root else None,
            "limits": {"nproc": 4096, "fsize": 512 * 2**20, "core": 0},
        }
        kernels = job / "jupyter" / "kernels" / KERNEL_NAME
        kernels.mkdir(parents=True)
        spec = {
            "argv": [sys.executable, "-m", "autograder.sandbox_kernel", "-f", "{connection_file}"],
            "display_name": "course-grade sandbox",
            "language": "python",
            "env": {"COURSE_GRADE_SANDBOX": json.dumps(sandbox_cfg)} if opts.isolate else {},
        }
        if forker is not None:
            spec["metadata"] = {"kernel_provisioner": forker.provisioner()}
        (kernels / "kernel.json").write_text(json.dumps(spec))
        extra = (
            "from autograder.execute import HardenedExecute\n"
            "from nbgrader.preprocessors import IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata\n"
            "from nbconvert.preprocessors import ClearMetadataPreprocessor\n"
            "c.Autograde.autograde_preprocessors = [HardenedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]\n"
            f"c.HardenedExecute.kernel_name = {KERNEL_NAME!r}\n"
            f"c.HardenedExecute.timeout = {int(opts.cell_timeout)}\n"
            f"c.HardenedExecute.memory_limit_mb = {int(opts.memory_mb)}\n"
            f"c.HardenedExecute.ipc_dir = {str(sandbox)!r}\n"
            "c.HardenedExecute.interrupt_on_timeout = True\n"
            f"c.IgnorePattern.pattern = {TF_LOG_PATTERN!r}\n"
            "c.IgnorePattern.enabled = True\n"
        )
        _config_file(course / "nbgrader_config.py", opts.course_root / "nbgrader_config.py", course, extra)
        job_env = dict(env)
        job_env.update(
            JUPYTER_PATH=str(job / "jupyter"),
            COURSE_GRADE_EVENTS=str(job / "events.json"),
            COURSE_GRADE_ISOLATION_STATUS=str(status_file),
        )
        code = _nbgrader(
            ["autograde", a, "--student", student, "--force", "--create"], course, job_env, job / "nbgrader.log", opts.job_timeout
        )
        events = json.loads((job / "events.json").read_text()) if (job / "events.json").is_file() else {}
        if code == -9:
            events.setdefault("events", []).append({"kind": "job-timeout", "cell": None, "detail": f"grading took over {opts.job_timeout} s"})
        executed = course / "autograded" / student / a / f"{a}.ipynb"
        return (executed if executed.is_file() else None), events, time.monotonic() - started
    finally:
        if as_root:
            _kill_uid(uid)
        shutil.rmtree(sandbox, ignore_errors=True)
        slots.put(slot)


def _start_zygote(env: dict[str, str], sandbox_base: Path, workspace: Path) -> zygote.Zygote | None:
    """Start the kernel zygote (see :mod:`.zygote`); None where it cannot be used."""
    if not zygote.Zygote.available():
        return None
    folder = Path(tempfile.mkdtemp(prefix="zygote-", dir=sandbox_base))  # 0700: the grader's only
    zenv = dict(env, MPLCONFIGDIR=str(_matplotlib_config(folder / "matplotlib")))
    return zygote.Zygote(str(folder), zenv, str(workspace / "zygote.log"))


def _matplotlib_config(folder: Path) -> Path:
    """A matplotlib config folder for kernels: figures at 50 dpi, the font cache ready."""
    folder.mkdir()
    # figures are still drawn (feedback shows them) but at a cheaper resolution
    (folder / "matplotlibrc").write_text("figure.dpi: 50\nsavefig.dpi: 50\n")
    for cache in _matplotlib_font_caches():  # else every kernel rebuilds it (seconds)
        shutil.copy(cache, folder / cache.name)
    return folder


def _matplotlib_font_caches() -> list[Path]:
    import matplotlib
    from matplotlib import font_manager  # noqa: F401  (builds the cache once, here)

    return sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))


def _kill_uid(uid: int) -> None:
    import psutil

    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()
        except psutil.Error:
            pass


def _unexecuted(notebook: nbformat.NotebookNode, reason: str) -> nbformat.NotebookNode:
    """A notebook whose code cells all carry an error: graded 0 on every test."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(notebook)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("error", ename="NotExecuted", evalue=reason, traceback=[f"NotExecuted: {reason}"])]
    return nb


# --------------------------------------------------------------------------- record


def record(opts: Options, workspace: Path, executed: dict[str, nbformat.NotebookNode], env: dict[str, str]) -> None:
    """Save scores and feedback for ``executed`` notebooks with nbgrader, one writer."""
    a, root = opts.assignment, opts.course_root
    runs = workspace / "executed"
    shutil.rmtree(runs, ignore_errors=True)
    for student, nb in executed.items():
        target = runs / student / a / f"{a}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    extra = (
        "from autograder.feedback import HideHiddenTests\n"
        "from nbgrader.preprocessors import DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties, GetGrades\n"
        "from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor\n"
        f"c.CourseDirectory.submitted_directory = {str(runs.relative_to(root))!r}\n"
        "c.Autograde.sanitize_preprocessors = [DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]\n"
        "c.Autograde.autograde_preprocessors = [IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]\n"
        f"c.IgnorePattern.pattern = {TF_LOG_PATTERN!r}\n"
        "c.IgnorePattern.enabled = True\n"
        "c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]\n"
    )
    if opts.db_url:
        extra += f"c.CourseDirectory.db_url = {opts.db_url!r}\n"
    cfg = workspace / "record-config"
    cfg.mkdir(exist_ok=True)
    _config_file(cfg / "nbgrader_config.py", root / "nbgrader_config.py", root, extra)
    log = workspace / "record.log"
    students = sorted(executed)
    code = _nbgrader(["autograde", a, "--force", "--create"], cfg, env, log)
    if code != 0:  # one odd notebook must not cost the others: retry one by one
        for student in students:
            _nbgrader(["autograde", a, "--student", student, "--force", "--create"], cfg, env, log)
    code = _nbgrader(["generate_feedback", a, "--force"], cfg, env, log)
    if code != 0:
        for student in students:
            _nbgrader(["generate_feedback", a, "--student", student, "--force"], cfg, env, log)


def read_scores(opts: Options, results: dict[str, StudentResult]) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    url = opts.db_url or f"sqlite:///{opts.course_root / 'gradebook.db'}"
    a = opts.assignment
    with Gradebook(url) as gb:
        for student, result in results.items():
            try:
                notebook = gb.find_submission_notebook(a, a, student)
            except MissingEntry:
                result.problems.append("no grade recorded by nbgrader")
                result.status = "error"
                continue
            for grade in notebook.grades:
                result.tests[grade.name] = [float(grade.score), float(grade.max_score)]
                if grade.needs_manual_grade:
                    result.manual_pending += float(grade.max_score)
            result.score = float(notebook.score)
            result.max_score = float(notebook.max_score)


# --------------------------------------------------------------------------- outputs


def _describe(events: dict) -> list[str]:
    problems = []
    for event in events.get("events", []):
        kind, cell, detail = event.get("kind"), event.get("cell"), event.get("detail", "")
        where = f"cell {cell}: " if cell is not None else ""
        if kind == "not-run":
            continue
        problems.append(f"{kind} ({where}{detail})")
    not_run = [e["cell"] for e in events.get("events", []) if e.get("kind") == "not-run"]
    if not_run:
        problems.append(f"{len(not_run)} test cell(s) not run after the kernel stopped: scored 0")
    return problems


def _earlier_results(opts: Options, out: Path, regraded: set[str]) -> list[StudentResult]:
    """Results of students an earlier run wrote to ``out`` and this partial run left alone."""
    try:
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if report.get("assignment") != opts.assignment:
        return []
    kept = []
    for student, data in report.get("students", {}).items():
        if student not in regraded:
            try:
                kept.append(StudentResult(**data))
            except TypeError:  # written by another version: skip rather than guess
                continue
    return kept


def write_outputs(opts: Options, outcome: Outcome) -> None:
    """grades.csv, grades_by_test.csv, report.json and feedback/ in the output folder.

    A run limited to some students (``--student``) updates their rows and feedback and
    keeps everyone else's from the earlier run in the same folder.
    """
    out = outcome.out
    out.mkdir(parents=True, exist_ok=True)
    a = opts.assignment
    regraded = {r.student for r in outcome.results}
    results = list(outcome.results)
    if opts.students is not None:
        results = sorted(results + _earlier_results(opts, out, regraded), key=lambda r: r.student)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score", "manual_pending", "status", "origin", "problems"])
        for r in results:
            w.writerow([r.student, a, f"{r.score:g}", f"{r.max_score:g}", f"{r.manual_pending:g}", r.status, r.origin, r.problem_summary()])
    with open(out / "grades_by_test.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "test", "score", "max_score"])
        for r in results:
            for name, (score, max_score) in sorted(r.tests.items()):
                w.writerow([r.student, a, name, f"{score:g}", f"{max_score:g}"])
    report = {
        "assignment": a,
        "seconds": round(outcome.seconds, 1),
        "isolation": outcome.isolation,
        "ingest_problems": outcome.ingest_problems,
        "students": {r.student: asdict(r) for r in results},
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    feedback = out / "feedback"
    if opts.students is None:
        shutil.rmtree(feedback, ignore_errors=True)
    feedback.mkdir(exist_ok=True)
    for student in regraded:
        html = opts.course_root / "feedback" / student / a / f"{a}.html"
        target = feedback / f"{student}.html"
        if html.is_file():
            shutil.copy(html, target)
        else:
            target.unlink(missing_ok=True)  # no stale feedback for a notebook that no longer grades


def summary_table(outcome: Outcome) -> str:
    rows = [("student", "score", "max", "status", "problems")]
    for r in outcome.results:
        summary = r.problem_summary()
        rows.append((r.student, f"{r.score:g}", f"{r.max_score:g}", r.status, summary[:90] + ("…" if len(summary) > 90 else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def grade(opts: Options) -> Outcome:
    started = time.monotonic()
    a, root = opts.assignment, opts.course_root.resolve()
    opts.course_root = root
    require_assignment(root, a)
    workspace = root / ".grading" / a
    workspace.mkdir(parents=True, exist_ok=True)
    os.chmod(root / ".grading", 0o700)
    out = (opts.out or root / "grading-output" / a).resolve()
    env = _base_env(opts)
    template, release_nb = prepare(opts, workspace, env)

    roster = read_roster(opts.roster) if opts.roster else None
    ingested = ingest(opts.submissions, a, opts.id_pattern, roster, opts.students)
    names = checks.instructor_names(release_nb)
    max_points = sum(
        float(c.metadata["nbgrader"].get("points", 0))
        for c in release_nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    results: dict[str, StudentResult] = {}
    pending: list[tuple[str, nbformat.NotebookNode]] = []
    for sub in ingested.submissions:
        result = StudentResult(sub.student, sub.origin, max_score=max_points, problems=list(sub.notes))
        results[sub.student] = result
        try:
            nb = read_submission(sub.data)
        except InvalidSubmission as exc:
            result.status = "invalid"
            result.problems.append(f"not gradable: {exc}; scored 0")
            continue
        fixed = repair(nb, release_nb)
        result.repairs = fixed.notes
        result.findings = [str(f) for f in checks.review(fixed.notebook, names)]
        if result.findings:
            result.status = "review"
        pending.append((sub.student, fixed.notebook))

    executed: dict[str, nbformat.NotebookNode] = {}
    isolation: dict = {}
    sandbox_base = Path(tempfile.mkdtemp(prefix="course-grade-"))
    os.chmod(sandbox_base, 0o711)
    forker = _start_zygote(env, sandbox_base, workspace) if pending and opts.zygote else None
    slots: queue.Queue[int] = queue.Queue()
    for i in range(max(1, opts.jobs)):
        slots.put(i)
    bar = None
    if opts.progress and pending:
        from tqdm import tqdm

        bar = tqdm(total=len(pending), desc=f"grading {a}", unit="nb", file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
            futures = {
                pool.submit(_run_job, opts, workspace, template, student, nb, slots, env, sandbox_base, forker): (student, nb)
                for student, nb in pending
            }
            for future in as_completed(futures):
                student, nb = futures[future]
                result = results[student]
                try:
                    path, events, seconds = future.result()
                except Exception as exc:  # a grading bug must not cost other students
                    path, events, seconds = None, {"events": [{"kind": "grader-error", "cell": None, "detail": repr(exc)}]}, 0.0
                result.seconds = round(seconds, 1)
                result.events = events.get("events", [])
                result.problems += _describe(events)
                isolation = isolation or events.get("isolation", {})
                if path is not None:
                    executed[student] = nbformat.read(path, as_version=4)
                else:
                    result.status = "error"
                    result.problems.append("nbgrader could not execute this notebook; every test scored 0 (see report.json)")
                    executed[student] = _unexecuted(nb, "the notebook could not be executed")
                kinds = {e.get("kind") for e in result.events}
                if kinds & {"kernel-died", "timeout-ignored-interrupt", "job-timeout"}:
                    result.status = "partial"
                elif "integrity-restored" in kinds:
                    result.status = "review"  # defeated, but an instructor should know
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if forker is not None:
            forker.stop()
        shutil.rmtree(sandbox_base, ignore_errors=True)

    if executed:
        record(opts, workspace, executed, env)
    read_scores(opts, {s: results[s] for s in executed})
    ordered = [results[s] for s in sorted(results)]
    outcome = Outcome(ordered, ingested.problems, isolation, out, time.monotonic() - started)
    write_outputs(opts, outcome)
    return outcome
