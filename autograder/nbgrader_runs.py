"""Run nbgrader's converters (and grading jobs) in child processes, one way for everyone.

Every nbgrader run of the grader goes through :func:`convert`: the converter class
(``GenerateAssignment``, ``Autograde``) is built in a child process
with a traitlets :class:`~traitlets.config.Config` (from :mod:`.nbconfig`), exactly as
nbgrader's own apps build it, and started there. Children fork from a multiprocessing
forkserver that has imported nbgrader once (about 3 s of CPU saved per run); where the
platform has no forkserver they are spawned, which is only slower.

A child has its own process group, its output goes to a log file, and a time limit
kills the whole group.
"""

from __future__ import annotations

import contextlib
import enum
import gc
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets.config import Config

PRELOAD = [
    "nbgrader.converters",
    "nbgrader.preprocessors",
    "nbconvert.exporters",
    "jupyter_client.manager",
    "autograder.execute",
    "autograder.job",
    # the trusted judge of a job runs the assignment's set-up cells: import them once
    "autograder.trusted",
    "IPython.core.inputtransformer2",
    "numpy",
    "keras",
    "course_utils",
    "sklearn.metrics",
]


class Converter(str, enum.Enum):
    """The nbgrader converters the grader runs."""

    GENERATE_ASSIGNMENT = "GenerateAssignment"
    AUTOGRADE = "Autograde"


@dataclass
class ChildOutcome:
    """How a child process ended: its exit code and what its function returned."""

    exitcode: int
    value: Any = None
    error: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.exitcode == -signal.SIGKILL and self.error == "timeout"


_CONTEXT: Any = None


def _context():
    """The multiprocessing context children come from (a forkserver with nbgrader loaded)."""
    global _CONTEXT
    if _CONTEXT is None:
        try:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _start_quietly()
        except ValueError:  # no fork on this platform
            ctx = multiprocessing.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


def _start_quietly() -> None:
    """Start the forkserver with its stderr on /dev/null: importing TensorFlow there prints log
    lines nobody asked for (its children write to their own log files)."""
    from multiprocessing import forkserver

    saved = os.dup(2)
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 2)
        os.close(quiet)
        forkserver.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def pipe() -> tuple[Any, Any]:
    """A duplex pipe whose second end can be handed to a child of :func:`call`."""
    return _context().Pipe(duplex=True)


def _child(target: Callable[..., Any], args: tuple, cwd: str, env: dict[str, str], log: str, conn) -> None:
    """In the child: own process group, log as stdout/stderr, given cwd and environment."""
    os.setsid()  # a time limit kills everything it started
    gc.freeze()  # what the forkserver imported (TensorFlow: millions of objects) is never scanned again
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    if env.get("PYTHONWARNINGS") == "ignore":  # only read when an interpreter starts
        import warnings

        warnings.simplefilter("ignore")
    try:
        value = target(*args)
    except BaseException as exc:  # reported to the parent, which decides
        traceback.print_exc()
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    conn.send(("ok", value))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def call(
    target: Callable[..., Any], *args: Any, cwd: Path, env: dict[str, str], log: Path, timeout: float | None = None
) -> ChildOutcome:
    """Run ``target(*args)`` in a child process; its return value must pickle."""
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(target, args, str(cwd), env, str(log), sender), name=f"course-grade {getattr(target, '__name__', 'child')}")
    proc.start()
    sender.close()
    message = None
    try:
        if receiver.poll(timeout):
            message = receiver.recv()
    except (EOFError, OSError):  # the child died without a word
        message = None
    finally:
        receiver.close()
    if message is None and proc.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.join()
        return ChildOutcome(-signal.SIGKILL, error="timeout")
    proc.join()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # nothing it started outlives it
    if message is None:
        return ChildOutcome(proc.exitcode if proc.exitcode is not None else 1, error="the process ended without a result")
    status, value = message
    if status == "ok":
        return ChildOutcome(0, value)
    return ChildOutcome(proc.exitcode or 1, error=value)


def _convert(converter: str, config: Config) -> None:
    """In the child: build and start one nbgrader converter, as nbgrader's apps do."""
    import logging

    from nbgrader import converters
    from nbgrader.coursedir import CourseDirectory

    logging.basicConfig(level=logging.INFO, format="[%(name)s] %(levelname)s | %(message)s")
    instance = getattr(converters, converter)(coursedir=CourseDirectory(config=config), config=config)
    instance.log = logging.getLogger(f"nbgrader.{converter}")
    instance.start()


def convert(converter: Converter, config: Config, *, log: Path, env: dict[str, str], timeout: float | None = None) -> ChildOutcome:
    """Run one nbgrader converter with ``config`` (see :func:`autograder.nbconfig.nbgrader_config`)."""
    root = Path(config.CourseDirectory.root)
    return call(_convert, converter.value, config, cwd=root, env=env, log=log, timeout=timeout)


def load_course_config(root: Path) -> Config:
    """The course's own ``nbgrader_config.py`` (read as nbgrader reads it), or an empty Config."""
    from traitlets.config.loader import PyFileConfigLoader

    path = root / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    return PyFileConfigLoader(path.name, path=str(root)).load_config()
