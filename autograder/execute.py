"""nbgrader's Execute preprocessor, hardened for hostile or broken submissions.

Plain nbgrader 0.9.6 drops a whole submission when its kernel dies or ignores the
interrupt after a timeout. :class:`HardenedExecute` instead records what happened, stops
executing, marks every cell that did not run with an error output (so its tests score 0
instead of the full points an empty output would get) and lets nbgrader grade what ran.
It also caps output while it arrives, kills a kernel that exceeds a memory limit (its RSS,
watched here; everything the job holds is also capped by the job's cgroup, whose OOM kill
is reported the same way), starts
the kernel with the environment it is given (nothing of the grader's own), and tells the
kernel which cells are tests and which are the instructor's, so it can restore patched
functions.

What it observed is in :attr:`HardenedExecute.events` (typed) and
:attr:`HardenedExecute.isolation` after :meth:`~HardenedExecute.preprocess`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Dict, Integer, Unicode

from . import cells
from .cells import CellRole
from .options import CELL_OUTPUT_LIMIT, MEMORY_MB
from .outcomes import EventKind, ExecutionEvent
from .sandbox_kernel import REPORT_KEY, ROLE_KEY

if TYPE_CHECKING:
    from .agent_link import AgentLink
    from .gate import Gate
    from .instructor_cells import InstructorCells
    from .trusted import Judge, Verdict


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class HardenedExecute(Execute):
    """Execute that survives timeouts, dead kernels, memory bombs and output floods."""

    memory_limit_mb = Integer(MEMORY_MB, help="Kill the kernel when its memory (RSS) exceeds this.").tag(config=True)
    cell_output_limit = Integer(CELL_OUTPUT_LIMIT, help="Characters of output kept per cell; the rest is dropped.").tag(config=True)
    ipc_dir = Unicode("", help="Folder for the kernel's IPC sockets (empty: TCP on localhost).").tag(config=True)
    kernel_env = Dict(help="The kernel's whole environment (empty: inherit the grader's).").tag(config=True)
    isolation_status_file = Unicode("", help="Where the sandboxed kernel reports the isolation it achieved.").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[ExecutionEvent] = []
        self._dead_reason: str | None = None
        self._watchdog_stop = threading.Event()
        self._memory_killed: str | None = None
        self._output_size: dict[int, int] = {}
        self._role = CellRole.STUDENT
        self.isolation: dict[str, Any] = {}
        self._instructor: InstructorCells | None = None
        self._judge: Judge | None = None
        self._judge_error: str | None = None
        self._judge_ready: threading.Thread | None = None
        self._link: AgentLink | None = None
        self._student_names: set[str] = set()
        #: seconds per phase: kernel start, waiting (for a turn), cells (judging included), judge, kernel stop
        self.timings: dict[str, float] = {}
        #: set by the job: wait for a turn before executing cells (:mod:`.gate`)
        self.gate: Gate | None = None

    def use_judge(self, instructor: InstructorCells) -> None:
        """Judge the graded test cells ``instructor`` knows outside the kernel (:mod:`.trusted`).

        The judge is made (its set-up run, Keras' first model built) in a thread while the
        kernel starts, so the first test does not wait for it.
        """
        self._instructor = instructor
        self._judge_ready = threading.Thread(target=self._make_judge, name="judge-set-up", daemon=True)
        self._judge_ready.start()

    def _make_judge(self) -> None:
        from .trusted import Judge

        try:
            self._judge = Judge(self._instructor.setup(), cell_timeout=self.timeout or 60)
            self._judge.warm_up()
        except Exception as exc:  # the instructor's set-up does not run in the grader
            self._judge = None
            self._judge_error = f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ kernel set-up

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if self.ipc_dir:
            km.transport = "ipc"
            km.ip = os.path.join(self.ipc_dir, "kernel")
        return km

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        if self.kernel_env:
            kwargs.setdefault("env", dict(self.kernel_env))
        await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        plain_execute = kc.execute

        def execute(code, *args, **kwargs):
            expressions = dict(kwargs.pop("user_expressions", None) or {})
            expressions[ROLE_KEY] = self._role.value
            return plain_execute(code, *args, user_expressions=expressions, **kwargs)

        kc.execute = execute
        self._start_watchdog()
        return kc

    # nbclient binds its sync wrappers to its own coroutines: rebind them to ours
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _kernel_pid(self) -> int | None:
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def _start_watchdog(self) -> None:
        pid = self._kernel_pid()
        if pid is None or self.memory_limit_mb <= 0:
            return
        import psutil

        limit = self.memory_limit_mb * 1024 * 1024

        def watch() -> None:
            try:
                proc = psutil.Process(pid)
            except psutil.Error:
                return
            while not self._watchdog_stop.wait(0.05):
                try:
                    children = proc.children(recursive=True)
                    # in a PID namespace the started process only waits for the kernel
                    # (and shares its pages when forked from the zygote): not counted
                    own = 0 if self.isolation.get("pid_namespace") else proc.memory_info().rss
                    rss = own + sum(c.memory_info().rss for c in children)
                except psutil.Error:
                    return
                if rss > limit:
                    self._memory_killed = f"memory limit exceeded: {rss / 2**20:.0f} MiB > {self.memory_limit_mb} MiB"
                    for p in [proc, *proc.children(recursive=True)]:
                        try:
                            p.kill()
                        except psutil.Error:
                            pass
                    return

        threading.Thread(target=watch, name="memory-watchdog", daemon=True).start()

    # ------------------------------------------------------------------ execution

    def _record(self, kind: EventKind, cell_index: int | None, detail: str) -> None:
        self.events.append(ExecutionEvent(kind, cell_index, detail))

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        clock = time.monotonic()
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                if info:
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                self._read_isolation_status()
                clock = self._lap("kernel start", clock)
                if self.gate is not None:
                    self.gate.enter()
                    clock = self._lap("waiting", clock)
                for index, cell in enumerate(self.nb.cells):
                    if self._dead_reason is not None:
                        self._mark_not_run(cell, index)
                        continue
                    self._role = cells.role(cell)
                    test = self._instructor.test_source(cell) if self._instructor and self._role is CellRole.TEST else None
                    if test is not None:
                        self._judged_cell(cell, resources, index, test)
                    else:
                        self.preprocess_cell(cell, resources, index)
                clock = self._lap("cells", clock)
                if self.gate is not None:
                    self.gate.leave()  # the next job may run while this kernel stops
        except Exception as exc:  # the kernel could not even start
            self._record(EventKind.KERNEL_ERROR, None, f"{type(exc).__name__}: {exc}")
            self._dead_reason = self._dead_reason or f"kernel failed: {exc}"
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type == "code" and not cell.get("outputs"):
                    self._mark_not_run(cell, index)
        finally:
            self._watchdog_stop.set()
            if self.gate is not None:
                self.gate.leave()
            if self._link is not None:
                self._link.close()
            self._lap("kernel stop", clock)
        return self.nb, self.resources

    def _lap(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - since
        return now

    # ------------------------------------------------------------------ trusted verdicts

    def _judged_cell(self, cell: NotebookNode, resources: Any, index: int, code: str) -> None:
        """A test cell: judged outside the kernel first, then run in it (its verdict only compared)."""
        started = time.monotonic()
        verdict = self._verdict(code, index)
        self._lap("judge", started)
        if verdict.kernel_hung:
            self._stop_hung_kernel(index, verdict.reason)
            cell.outputs = verdict.outputs
            return
        if verdict.timed_out:  # the kernel answered the interrupt; running the test there would hang again
            self._record(EventKind.TIMEOUT, index, f"a student function called by the test: {verdict.reason}")
            cell.outputs = verdict.outputs
            return
        self._role = CellRole.STUDENT  # the guard ran for the judge's session just now: not again
        self.preprocess_cell(cell, resources, index)
        kernel_passed = not any(out.get("output_type") == "error" for out in cell.get("outputs", []))
        cell.outputs = verdict.outputs
        if kernel_passed and not verdict.passed:
            self._record(EventKind.VERDICT_DIFFERS, index, f"the kernel reported a pass; judged outside it: {verdict.reason}")

    def _verdict(self, code: str, index: int) -> Verdict:
        from .agent_link import AgentError, AgentLink, CallTimeout
        from .trusted import StudentKernelError, Verdict

        if self._judge_ready is not None:
            self._judge_ready.join()
            self._judge_ready = None
            self._student_names = self._instructor.student_names(self.nb) if self._instructor else set()
            if self._judge_error is not None:
                self._record(EventKind.GRADER_ERROR, None, f"the set-up cells could not run in the judge: {self._judge_error}")
        if self._judge is None:
            error = NotebookNode(output_type="error", ename="JudgeUnavailable", evalue=f"採点側の準備に失敗しました: {self._judge_error}", traceback=[])
            return Verdict(False, [error], "the judge could not start")
        if self._link is None:
            self._link = AgentLink(
                self.km.get_connection_info(), run_sync(self.km.interrupt_kernel), {ROLE_KEY: CellRole.TEST.value}, run_sync(self.km.is_alive)
            )
        try:
            self._link.start()
        except (AgentError, CallTimeout) as exc:
            self._link.finish()
            evalue = f"学生のカーネルが採点の問い合わせに応じませんでした ({exc})"
            error = NotebookNode(output_type="error", ename=StudentKernelError.__name__, evalue=evalue, traceback=[])
            return Verdict(False, [error], f"the agent did not start: {exc}")
        try:
            return self._judge.judge(code, self._link, self._student_names)
        finally:
            restored = self._link.finish().get(REPORT_KEY)
            if restored:
                self._record(EventKind.INTEGRITY_RESTORED, index, ", ".join(restored))

    def _stop_hung_kernel(self, index: int, reason: str) -> None:
        self._dead_reason = f"{reason} (cell {index})"
        self._record(EventKind.TIMEOUT_IGNORED_INTERRUPT, index, reason)
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:
            pass

    def _read_isolation_status(self) -> None:
        """What the sandbox achieved, read before any student code could rewrite it."""
        path = self.isolation_status_file
        if not path:
            return
        for _ in range(50):
            if os.path.exists(path):
                break
            time.sleep(0.02)
        try:
            with open(path, encoding="utf-8") as f:
                self.isolation = json.load(f)
        except (OSError, ValueError) as exc:
            self.isolation = {"errors": [f"no isolation status: {exc}"]}

    def _cgroup_memory_kill(self) -> str | None:
        """Why the kernel died, when the memory limit of its cgroup killed it."""
        group = self.isolation.get("cgroup")
        if not group:
            return None
        from . import sandbox_cgroup

        memory = sandbox_cgroup.JobCgroup.from_dict(group).memory
        for _ in range(5):  # the kernel's death may be seen before the counter is read
            if sandbox_cgroup.oom_kills(memory):
                return f"memory limit exceeded: {sandbox_cgroup.peak_mb(memory)} MiB > {self.memory_limit_mb} MiB"
            time.sleep(0.05)
        return None

    def _mark_not_run(self, cell: NotebookNode, index: int) -> None:
        if cell.cell_type != "code":
            return
        cell.outputs = [_error_output("NotExecuted", f"not run: {self._dead_reason}")]
        if cells.role(cell) is CellRole.TEST:
            self._record(EventKind.NOT_RUN, index, self._dead_reason or "")

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            reason = self._memory_killed or self._cgroup_memory_kill() or "the kernel died (crash, os._exit or a signal)"
            self._dead_reason = f"{reason} in cell {cell_index}"
            self._record(EventKind.KERNEL_DIED, cell_index, reason)
            cell.outputs = list(cell.get("outputs", [])) + [_error_output("DeadKernelError", reason)]
            return cell
        except CellTimeoutError as exc:
            reason = f"cell ran past {self.timeout} s and ignored the interrupt; kernel stopped"
            self._dead_reason = f"{reason} (cell {cell_index})"
            self._record(EventKind.TIMEOUT_IGNORED_INTERRUPT, cell_index, str(exc).splitlines()[0] if str(exc) else reason)
            cell.outputs = list(cell.get("outputs", [])) + [_error_output("CellTimeoutError", reason)]
            try:
                await self.km.shutdown_kernel(now=True)
            except Exception:
                pass
            return cell

    execute_cell = run_sync(async_execute_cell)

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        reply, index = kwargs["execute_reply"], kwargs.get("cell_index")
        content = reply.get("content", {})
        if content.get("ename") == "CellTimeoutError" or (
            content.get("status") == "error" and content.get("ename") == "KeyboardInterrupt"
        ):
            self._record(EventKind.TIMEOUT, index, f"cell ran past {self.timeout} s and was interrupted")
        restored = content.get(REPORT_KEY)
        if restored:
            self._record(EventKind.INTEGRITY_RESTORED, index, ", ".join(restored))

    def output(self, outs, msg, display_id, cell_index):
        if msg.get("msg_type") == "error":  # never dropped: a hidden failure would score full points
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content", {})
        # text floods are the danger; a figure's PNG is large but bounded
        size = len(content.get("text", "")) if msg.get("msg_type") == "stream" else len(json.dumps(content, default=str)) // 20
        total = self._output_size.get(cell_index, 0) + size
        self._output_size[cell_index] = total
        if total > self.cell_output_limit:
            if total - size <= self.cell_output_limit:
                self._record(EventKind.OUTPUT_TRUNCATED, cell_index, f"output beyond {self.cell_output_limit} characters dropped")
                outs.append(NotebookNode(output_type="stream", name="stdout", text="\n[course-grade] further output dropped\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)
