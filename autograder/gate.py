"""Start the next kernel while the current one runs: ``--jobs`` notebooks execute at a time,
one more waits ready.

Starting a sandboxed kernel and sanitising a notebook take about a second and use little
CPU, so a run keeps one job more than ``--jobs`` going and lets it prepare while the others
execute. A job's child asks its :class:`Gate` (a pipe to the grader) for a turn once its
kernel is ready and gives it back as soon as its cells are done; the grader holds the turn
on the child's behalf, so a child that dies or is killed never keeps one.
"""

from __future__ import annotations

import threading
from typing import Any

READY, GO, DONE = "ready", "go", "done"


class Gate:
    """The child's end: wait for a turn before executing cells, give it back after."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._held = False

    def enter(self) -> None:
        self._conn.send(READY)
        if self._conn.recv() != GO:
            raise RuntimeError("the grader refused the turn")
        self._held = True

    def leave(self) -> None:
        if self._held:
            self._held = False
            self._conn.send(DONE)


class Keeper:
    """The grader's end: takes a turn from ``turns`` for the child, returns it when the child
    is done or gone."""

    def __init__(self, conn: Any, turns: threading.Semaphore) -> None:
        self._conn = conn
        self._turns = turns
        self._held = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="job-gate", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                if not self._conn.poll(0.1):
                    continue
                message = self._conn.recv()
                if message == READY and not self._held:
                    self._turns.acquire()
                    self._held = True
                    self._conn.send(GO)
                elif message == DONE and self._held:
                    self._held = False
                    self._turns.release()
        except (EOFError, OSError):  # the child ended
            pass

    def close(self) -> None:
        """After the child ended: stop serving and return a turn it still held."""
        self._stop.set()
        self._thread.join()
        if self._held:
            self._held = False
            self._turns.release()
        self._conn.close()
