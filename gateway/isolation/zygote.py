"""The workers' zygote: one warm process that forks a fresh worker for every job.

The pool starts it once, as a fresh interpreter (so that none of the daemon's threads,
event loop or open files come along), and it imports every parser (gateway.preload)
before saying it is ready.  From then on each worker is a bare ``os.fork()`` of it: no
pickling, no re-import, no interpreter start-up per file.

It runs only the entry points it was given at start (module:function names, imported then,
before any job), and every worker it forks is confined (gateway.isolation.confinement)
before the entry point runs: an entry point cannot opt out of the walls.

The two talk over a private socket pair in lines of JSON (never pickle):

    daemon → zygote   {"id": 7, "target": "gateway.isolation.worker:sanitise", "job": {...},
                       "walls": {"read": [...], "scratch": "..."}, "limits": {...}}
    zygote → daemon   {"ready": <zygote pid>}            once, when preloaded
                      {"id": 7, "pid": 4242}             as soon as the worker is forked
                      {"id": 7, "status": -9}            when it is reaped: exit code or -signal
                      {"id": 7, "error": "..."}          the worker could not be started

Lifetimes are chained: a worker gets SIGKILL when the zygote dies, the zygote when the
daemon dies (PR_SET_PDEATHSIG both times; LibreOffice gets it from its worker), so a daemon
killed with SIGKILL leaves no worker writing into a spool that its successor is already
recovering. The zygote is also a child subreaper: whatever a worker started and left behind
(a daemonised grandchild, a LibreOffice whose worker died) becomes the zygote's child, and
the zygote kills every such orphan before it reports a worker's end. So when the daemon
hears that a worker ended, nothing that worker started is still running. The zygote reaps
its workers; the provider reaps the zygote.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
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
from pathlib import Path
from typing import Any

from gateway.isolation.confinement import Runtime, Walls, enter, prepare_runtime
from sanitizers.base import Limits

EntryPoint = Callable[[dict[str, Any]], None]
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_READ_SIZE = 64 * 1024
#: The zygote's command: the daemon's own module path, then serve on the inherited socket.
_BOOTSTRAP = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from gateway.isolation.zygote import main; main()"


class ZygoteError(RuntimeError):
    """The zygote could not be started."""


def entry_point_name(function: Callable[..., None]) -> str:
    """The name an entry point is given to the zygote by: ``module:function``."""
    return f"{function.__module__}:{function.__qualname__}"


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
    async def start(cls, entry_points: tuple[str, ...], confinement: str) -> Zygote:
        """Start a zygote for ``entry_points`` and wait until it has preloaded them.

        Call this on the event loop's thread: PR_SET_PDEATHSIG fires when the *thread* that
        started the zygote ends, and that thread lives as long as the loop.
        """
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            settings = json.dumps({"entry_points": list(entry_points), "confinement": confinement})
            argv = [sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(sys.path), str(theirs.fileno()),
                    str(os.getpid()), settings]  # fmt: skip
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

    def spawn(self, target: str, job: dict[str, Any], walls: Walls, limits: Limits) -> Worker:
        """Ask for a worker running ``target(job)`` behind ``walls``; await its ``started`` and ``ended``."""
        worker = Worker(self.loop.create_future(), self.loop.create_future())
        if not self.alive:
            self._give_up(worker, "the worker zygote is not running")
            return worker
        self._next_id += 1
        self._workers[self._next_id] = worker
        self._send({"id": self._next_id, "target": target, "job": job, "walls": walls.as_message(),
                    "limits": dataclasses.asdict(limits)})  # fmt: skip
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
    settings = json.loads(sys.argv[4])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the daemon, which finishes its work
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)
    from gateway.isolation.preload import warm_up

    entry_points = {name: _import_entry_point(name) for name in settings["entry_points"]}
    warm_up()  # after the entry points: what they import is frozen and shared too
    runtime = prepare_runtime(settings["confinement"])
    _Server(control, entry_points, settings["confinement"], runtime).serve()


def _import_entry_point(name: str) -> EntryPoint:
    module_name, _, function = name.partition(":")
    entry_point: EntryPoint = getattr(importlib.import_module(module_name), function)
    return entry_point


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent goes, and go now if it already has."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _Server:
    def __init__(
        self, control: socket.socket, entry_points: dict[str, EntryPoint], confinement: str, runtime: Runtime
    ) -> None:
        self.control = control
        self.entry_points = entry_points
        self.confinement = confinement
        self.runtime = runtime
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
            target = self.entry_points.get(request["target"])
            if target is None:
                raise ValueError(f"{request['target']} is not a worker entry point")
            walls = Walls.from_message(request["walls"])
            limits = Limits(**request["limits"])
            pid = os.fork()
        except (ValueError, TypeError, KeyError, OSError) as exc:
            self._send({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"})
            return
        if pid == 0:
            self._become_worker(target, request["job"], walls, limits)
        self.children[pid] = request["id"]
        self._send({"id": request["id"], "pid": pid})

    def _become_worker(self, target: EntryPoint, job: dict[str, Any], walls: Walls, limits: Limits) -> None:
        """In the forked child: shed the zygote's state, confine, run the target, exit (never returns)."""
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
            os.umask(0o077)
            os.setsid()  # its own process group, killed as a whole on timeout
            enter(walls, limits, self.confinement, self.runtime)
            target(job)
            status = 0
        finally:  # an exception ends here too, unprinted: the exit status is the whole report
            os._exit(status)

    def _reap(self) -> None:
        ended: list[tuple[int, int]] = []
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            request = self.children.pop(pid, None)
            if request is not None:
                ended.append((request, os.waitstatus_to_exitcode(wait_status)))
        if ended:
            self._kill_orphans()  # before anyone hears of the end: nothing of theirs runs on
        for request, status in ended:
            self._send({"id": request, "status": status})

    def _kill_orphans(self) -> None:
        """Kill and reap every child that is not a worker: something a worker started and left
        behind, handed to this subreaper by the kernel; until none is left, as their own
        children come here in turn when they die."""
        while orphans := [pid for pid in _children_of_self() if pid not in self.children]:
            for pid in orphans:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for pid in orphans:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def _kill_children(self) -> None:
        """Going away: every worker's group, and any orphan, is killed."""
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.children.clear()
        self._kill_orphans()

    def _send(self, message: dict[str, Any]) -> None:
        self.control.sendall(json.dumps(message).encode() + b"\n")


def _children_of_self() -> list[int]:
    """This (single-threaded) process's children, as the kernel lists them."""
    pid = os.getpid()
    listing = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return [int(child) for child in listing.split()]
