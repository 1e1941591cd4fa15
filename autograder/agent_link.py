"""The grader's end of :mod:`.kernel_agent`: requests to the student's kernel, with time limits.

A :class:`AgentLink` is a second client of the student's kernel (its own shell and stdin
sockets). For one test cell it starts :func:`.kernel_agent.serve` with
``allow_stdin=True``; each request is an ``input_reply``, each answer the next
``input_request``'s prompt. Answers are parsed as JSON and nothing more: what they mean
is decided by :mod:`.trusted`, strictly.

A request that gets no answer in time interrupts the kernel; a kernel that does not
answer the interrupt either is reported as hung (:class:`KernelHung`), and the grader
stops it as it stops a cell that ignores the interrupt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import zmq

AGENT_CODE = "__import__('autograder.kernel_agent', fromlist=['serve']).serve()"
#: how long the agent may take to start or to answer a request of the grader's own
START_TIMEOUT = 30.0
#: how long a kernel may take to answer an interrupt, and how many it may ignore before it counts as hung
INTERRUPT_GRACE = 2.0
INTERRUPTS = 3
#: how often a silent kernel is checked for being alive (seconds)
LIVENESS_EVERY = 0.5


class AgentError(Exception):
    """The agent ended or answered nonsense (the kernel's code was changed or broke)."""


class KernelDied(AgentError):
    """The kernel died while the grader waited for the agent (a crash, ``os._exit``, a limit)."""


class CallTimeout(Exception):
    """A request ran past its time limit; the kernel answered the interrupt."""


class KernelHung(Exception):
    """A request ran past its time limit and the kernel ignored the interrupt."""


def _client_class():
    from jupyter_client.blocking.client import BlockingKernelClient

    class StdinReadyClient(BlockingKernelClient):
        """A client whose stdin socket is connected (handshake done) before it is used: the
        kernel drops an ``input_request`` routed to a peer whose connection is not complete."""

        def connect_stdin(self, identity: bytes | None = None) -> zmq.Socket:
            sock = self.context.socket(zmq.DEALER)
            sock.linger = 1000
            if identity:
                sock.identity = identity
            if getattr(self, "curve_publickey", None) is not None:
                sock.curve_secretkey = self.curve_secretkey
                sock.curve_publickey = self.curve_publickey
                sock.curve_serverkey = self.curve_publickey
            monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            try:
                sock.connect(self._make_url("stdin"))
                if monitor.poll(int(START_TIMEOUT * 1000)):
                    monitor.recv_multipart()
            finally:
                sock.disable_monitor()
                monitor.close()
            return sock

    return StdinReadyClient


class AgentLink:
    """Requests to the agent in a student's kernel, over a client of the grader's own."""

    def __init__(
        self, connection_info: dict[str, Any], interrupt: Callable[[], None], role_expressions: dict[str, str],
        is_alive: Callable[[], bool] | None = None,
    ) -> None:
        self._client = _client_class()()
        self._client.load_connection_info(connection_info)
        self._client.start_channels(iopub=False, shell=True, stdin=True, hb=False, control=False)
        self._interrupt = interrupt
        self._is_alive = is_alive
        self._role = dict(role_expressions)
        self._msg_id: str | None = None
        self.reply: dict[str, Any] = {}  # the kernel's execute_reply content for the last session

    def close(self) -> None:
        self._client.stop_channels()

    # ------------------------------------------------------------------ one session

    def start(self) -> None:
        """Start the agent for one test cell (the in-kernel guard runs first, as for a test)."""
        self.reply = {}
        self._msg_id = self._client.execute(AGENT_CODE, silent=True, store_history=False, allow_stdin=True, user_expressions=self._role)
        first = self._next_answer(START_TIMEOUT)
        if first.get("op") != "ready":
            raise AgentError(f"the agent did not start: {str(first)[:200]}")

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request; its answer, or :class:`CallTimeout`/:class:`KernelHung`/:class:`AgentError`."""
        if self._msg_id is None:
            raise AgentError("the agent is not running")
        self._client.input(json.dumps(request))
        try:
            return self._next_answer(timeout)
        except CallTimeout:
            pass
        for _ in range(INTERRUPTS):  # code that catches one KeyboardInterrupt gets another
            try:
                self._interrupt()
            except Exception:  # the kernel is gone: the wait below says so
                pass
            try:
                answer = self._next_answer(INTERRUPT_GRACE)
            except CallTimeout:
                continue
            if not answer.get("interrupted"):
                raise AgentError("the agent answered an interrupt with something else")
            raise CallTimeout(f"no answer within {timeout:.0f} s")
        self._msg_id = None
        raise KernelHung(f"no answer within {timeout:.0f} s, and {INTERRUPTS} interrupts were ignored")

    def finish(self) -> dict[str, Any]:
        """End the session; the kernel's reply to it (the guard's report is in it)."""
        if self._msg_id is None:
            return self.reply
        msg_id, self._msg_id = self._msg_id, None
        if not self.reply:
            self._client.input(json.dumps({"op": "done"}))
            deadline = time.monotonic() + START_TIMEOUT
            try:
                while not self.reply:
                    self._poll(deadline, msg_id, want_prompt=False)
            except (CallTimeout, AgentError):  # dead or stuck: the cell's own run will say so
                pass
        return self.reply

    # ------------------------------------------------------------------ messages

    def _next_answer(self, timeout: float) -> dict[str, Any]:
        if self._msg_id is None:
            raise AgentError("the agent is not running")
        deadline = time.monotonic() + timeout
        while True:
            prompt = self._poll(deadline, self._msg_id, want_prompt=True)
            if prompt is not None:
                try:
                    answer = json.loads(prompt)
                except (ValueError, RecursionError):
                    raise AgentError("the kernel asked for input that was not the agent's") from None
                if not isinstance(answer, dict):
                    raise AgentError("the agent answered with something other than an object")
                return answer
            if self.reply:
                self._msg_id = None
                raise AgentError(f"the agent ended ({self.reply.get('status')}: {self.reply.get('ename', '')} {self.reply.get('evalue', '')})".strip())

    def _poll(self, deadline: float, msg_id: str, want_prompt: bool) -> str | None:
        """Wait for the agent's next prompt or the end of its execution; None when it ended."""
        stdin, shell = self._client.stdin_channel.socket, self._client.shell_channel.socket
        poller = zmq.Poller()
        poller.register(stdin, zmq.POLLIN)
        poller.register(shell, zmq.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CallTimeout
            ready = dict(poller.poll(max(1, int(min(left, LIVENESS_EVERY) * 1000))))
            if not ready and self._is_alive is not None and not self._is_alive():
                raise KernelDied("the kernel died")
            if shell in ready:
                msg = self._client.get_shell_msg(timeout=0)
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_reply":
                    self.reply = dict(msg["content"])
                    return None
            if stdin in ready:
                msg = self._client.get_stdin_msg(timeout=0)
                if msg["msg_type"] == "input_request" and msg["parent_header"].get("msg_id") == msg_id:
                    if want_prompt:
                        return str(msg["content"].get("prompt", ""))
                    self._client.input(json.dumps({"op": "done"}))
