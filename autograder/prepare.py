"""Before grading: the assignment's template course and the main gradebook's entry.

The template course (``.grading/<assignment>/template``) holds the source notebook and
a private SQLite gradebook made by ``nbgrader generate_assignment``; jobs read the
instructor's cells from it and never write it. It is rebuilt only when ``source/``
changes. The main gradebook (SQLite or ``--db-url``) is told about the assignment the
same way, with its release written into the workspace, not over the committed release/.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .nbconfig import Stage, nbgrader_config
from .nbgrader_runs import Converter, convert
from .options import Options


class GradingError(RuntimeError):
    """The assignment cannot be graded at all (unknown assignment, nbgrader failed)."""


@dataclass(frozen=True)
class Prepared:
    template: Path  # the template course
    template_db: str  # its gradebook's URL
    release: nbformat.NotebookNode  # the student version, as nbgrader generated it


def assignments(root: Path) -> list[str]:
    """Assignment ids with a source notebook source/<id>/<id>.ipynb."""
    return sorted(p.name for p in (root / "source").glob("*") if (p / f"{p.name}.ipynb").is_file())


def require_assignment(root: Path, assignment: str) -> None:
    if not (root / "source" / assignment / f"{assignment}.ipynb").is_file():
        known = ", ".join(assignments(root)) or "none"
        raise GradingError(f"no source notebook source/{assignment}/{assignment}.ipynb in {root}; assignments: {known}")


def source_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare(opts: Options, env: dict[str, str]) -> Prepared:
    """Template course with gradebook (cached by source hash); main gradebook knows the assignment."""
    a, root, workspace = opts.assignment, opts.course_root, opts.workspace
    require_assignment(root, a)
    source = root / "source" / a
    template = workspace / "template"
    stamp = template / ".source-hash"
    digest = source_hash(source)
    log = workspace / "prepare.log"
    if not (stamp.is_file() and stamp.read_text() == digest and (template / "gradebook.db").is_file()):
        shutil.rmtree(template, ignore_errors=True)
        (template / "source").mkdir(parents=True)
        shutil.copytree(source, template / "source" / a)
        done = convert(Converter.GENERATE_ASSIGNMENT, nbgrader_config(opts, Stage.TEMPLATE, root=template), log=log, env=env)
        if done.exitcode != 0:
            raise GradingError(f"nbgrader generate_assignment failed for {a}; see {log}")
        stamp.write_text(digest)
    done = convert(Converter.GENERATE_ASSIGNMENT, nbgrader_config(opts, Stage.REGISTER), log=log, env=env)
    if done.exitcode != 0:
        if "because there are submissions associated with it" in log.read_text(errors="replace"):
            raise GradingError(
                f"source/{a} has other graded cells than when its submissions were graded, and nbgrader "
                f"cannot change an assignment that has submissions in the gradebook. Revert the change to "
                f"source/{a}, or drop the old grades first (nbgrader db assignment remove {a} --force, "
                f"or delete gradebook.db) and grade everyone again."
            )
        raise GradingError(f"registering {a} in the main gradebook failed; see {log}")
    release = nbformat.read(template / "release" / a / f"{a}.ipynb", as_version=4)
    return Prepared(template, f"sqlite:///{template / 'gradebook.db'}", release)
