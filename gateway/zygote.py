"""The workers' zygote: one warm process that forks a fresh worker for every job.

The pool starts it once, as a fresh interpreter (so that none of the daemon's threads,
event loop or open files come along), and it imports every parser (gateway.preload)
before saying it is ready.  From then on each worker is a bare ``os.fork()`` of it: no
pickling, no re-import, no interpreter start-up per file.

The two talk over a private socket pair in lines of JSON (never pickle):

    daemon → zygote   {"id": 7, "target": "gateway.isolation:run_job", "job": {...}}
    zygote → daemon   {"ready": <zygote pid>}            once, when preloaded
                      {"id": 7, "pid": 4242}             as soon as the worker is forked
                      {"id": 7, "status": -9}            when it is reaped: exit code or -signal
                      {"id": 7, "error": "..."}          the worker could not be started

Lifetimes are chained: a worker gets SIGKILL when the zygote dies, the zygote when the
daemon dies (PR_SET_PDEATHSIG both times), so a daemon killed with SIGKILL leaves no worker
writing into a spool that its successor is already recovering.  The zygote reaps its
workers; the pool reaps the zygote.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.isolation import Job

RUN_JOB = "gateway.isolation:run_job"
#: Misbehaving workers the isolation tests run; resolved only from this module's __all__.
TEST_DOUBLES = "tests.gateway.worker_doubles"
_PR_SET_PDEATHSIG = 1
_READ_SIZE = 64 * 1024
#: The zygote's command: the daemon's own module path, then serve on the inherited socket.
_BOOTSTRAP = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from gateway.zygote import main; main()"
)


class ZygoteError(RuntimeError):
    """The zygote could not be started."""


def target_name(target: Callable[[Job], None]) -> str:
    """The name a worker entry point is asked for by; only known entry points have one."""
    name = f"{target.__module__}:{target.__qualname__}"
    module, _, function = name.partition(":")
    if name != RUN_JOB and not (module == TEST_DOUBLES and function.isidentifier()):
        raise ValueError(f"{name} is not a worker entry point")
    return name


# ── the daemon's end ─────────────────────────────────────────────────────────────────────
@dataclass
class Worker:
    """One requested worker: its pid once forked, its exit status once reaped.

    Both resolve to None (and ``problem`` says why) when the worker could not be started or
    the zygote went away before reporting.
    """

    started: asyncio.Future[int | None]
    ended: asyncio.Future[int | None]
    problem: str = ""


@dataclass
class Zygote:
    """The daemon's handle on a running zygote; lives on the event loop that started it."""

    loop: asyncio.AbstractEventLoop
    process: subprocess.Popen[bytes]
    sock: socket.socket
    _workers: dict[int, Worker] = field(default_factory=dict)
    _ready: asyncio.Future[bool] | None = None
    _incoming: bytearray = field(default_factory=bytearray)
    _outgoing: bytearray = field(default_factory=bytearray)
    _next_id: int = 0
    _end: Callable[[], None] = lambda: None
    alive: bool = True

    @classmethod
    async def start(cls) -> Zygote:
        """Start a zygote and wait until it has preloaded the parsers.

        Call this on the event loop's thread: PR_SET_PDEATHSIG fires when the *thread* that
        started the zygote ends, and that thread lives as long as the loop.
        """
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            argv = [sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(sys.path), str(theirs.fileno()),
                    str(os.getpid())]  # fmt: skip
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        zygote = cls(loop, process, ours)
        zygote._end = weakref.finalize(zygote, _end, process, ours)  # also at interpreter exit
        ready = zygote._ready = loop.create_future()
        loop.add_reader(ours, zygote._on_readable)
        try:
            await ready
        finally:
            if not (ready.done() and ready.result()):
                zygote.close()
        if not ready.result():
            raise ZygoteError(f"the worker zygote exited while starting (status {process.returncode})")
        return zygote

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Usable from ``loop``: the poll also catches a death whose EOF is still unread."""
        return self.alive and self.loop is loop and not loop.is_closed() and self.process.poll() is None

    def spawn(self, target: str, job: dict[str, Any]) -> Worker:
        """Ask for a worker running ``target(job)``; await its ``started`` and ``ended``."""
        worker = Worker(self.loop.create_future(), self.loop.create_future())
        if not self.alive:
            self._give_up(worker, "the worker zygote is not running")
            return worker
        self._next_id += 1
        self._workers[self._next_id] = worker
        self._send({"id": self._next_id, "target": target, "job": job})
        return worker

    def close(self) -> None:
        """Stop the zygote (its workers die with it), reap it and settle every request."""
        if not self.alive:
            return
        self.alive = False
        if not self.loop.is_closed():
            self.loop.remove_reader(self.sock)
            self.loop.remove_writer(self.sock)
            for worker in self._workers.values():
                self._give_up(worker, "the worker zygote died")
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(False)
        self._workers.clear()
        self._end()

    def _send(self, message: dict[str, Any]) -> None:
        self._outgoing += json.dumps(message).encode() + b"\n"
        self._flush()

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self._outgoing)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        del self._outgoing[:sent]
        if self._outgoing:
            self.loop.add_writer(self.sock, self._flush)
        else:
            self.loop.remove_writer(self.sock)

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()  # the zygote has gone: restarted on next use
            return
        self._incoming += data
        *lines, rest = self._incoming.split(b"\n")
        self._incoming[:] = rest
        try:
            for line in lines:
                self._dispatch(json.loads(line))
        except (ValueError, TypeError, KeyError):
            self.close()  # a zygote that talks nonsense is not to be trusted with more work

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "ready" in message:
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(True)
            return
        worker = self._workers[message["id"]]
        if "pid" in message:
            worker.started.set_result(int(message["pid"]))
        elif "status" in message:
            worker.ended.set_result(int(message["status"]))
            del self._workers[message["id"]]
        else:
            del self._workers[message["id"]]
            self._give_up(worker, str(message["error"]))

    @staticmethod
    def _give_up(worker: Worker, problem: str) -> None:
        worker.problem = worker.problem or problem
        for future in (worker.started, worker.ended):
            if not future.done():
                future.set_result(None)


def _end(process: subprocess.Popen[bytes], sock: socket.socket) -> None:
    sock.close()
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()  # immediate after SIGKILL: no zombie left behind


# ── the zygote's end ─────────────────────────────────────────────────────────────────────
def main() -> None:
    """Entry point of the zygote process (see _BOOTSTRAP): preload, then serve until EOF."""
    control = socket.socket(fileno=int(sys.argv[2]))
    die_with_parent(int(sys.argv[3]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the daemon, which finishes its work
    import gateway.preload  # noqa: F401 - the whole point: every worker starts warm

    _Server(control).serve()


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent goes, and go now if it already has."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _Server:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.pid = os.getpid()
        self.children: dict[int, int] = {}  # pid → request id
        self.selector = selectors.DefaultSelector()
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # the wakeup fd does the work
        self.selector.register(self.control, selectors.EVENT_READ)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ)
        self._send({"ready": os.getpid()})
        buffer = b""
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    data = self.control.recv(_READ_SIZE)
                    if not data:  # the pool closed its end or the daemon is gone
                        self._kill_children()
                        return
                    *lines, buffer = (buffer + data).split(b"\n")
                    for line in lines:
                        self._fork(json.loads(line))
                else:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wakeup_r, 4096):
                            pass
                    self._reap()

    def _fork(self, request: dict[str, Any]) -> None:
        try:
            target = resolve_target(request["target"])
            from gateway.isolation import job_from_message

            job = job_from_message(request["job"])
            pid = os.fork()
        except (ValueError, TypeError, KeyError, ImportError, AttributeError, OSError) as exc:
            self._send({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"})
            return
        if pid == 0:
            self._become_worker(target, job)
        self.children[pid] = request["id"]
        self._send({"id": request["id"], "pid": pid})

    def _become_worker(self, target: Callable[[Job], None], job: Job) -> None:
        """In the forked child: shed the zygote's state, run the target, exit (never returns)."""
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            self.selector.close()
            self.control.close()
            os.close(self.wakeup_r)
            os.close(self.wakeup_w)
            die_with_parent(self.pid)
            target(job)
            status = 0
        finally:  # an exception ends here too, unprinted: the exit status is the whole report
            os._exit(status)

    def _reap(self) -> None:
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request = self.children.pop(pid, None)
            if request is not None:
                self._send({"id": request, "status": os.waitstatus_to_exitcode(wait_status)})

    def _kill_children(self) -> None:
        for pid in self.children:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)

    def _send(self, message: dict[str, Any]) -> None:
        self.control.sendall(json.dumps(message).encode() + b"\n")


def resolve_target(name: str) -> Callable[[Job], None]:
    """The worker entry point called ``name``: run_job, or a test double (tests only)."""
    if name == RUN_JOB:
        from gateway.isolation import run_job

        return run_job
    module_name, _, function = name.partition(":")
    if module_name == TEST_DOUBLES:
        module = importlib.import_module(module_name)
        if function in module.__all__:
            target: Callable[[Job], None] = getattr(module, function)
            return target
    raise ValueError(f"{name} is not a worker entry point")
