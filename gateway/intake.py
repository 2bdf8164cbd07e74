"""Noticing files in the inboxes, and deciding when one is ready to take.

inotify (through watchdog) reports close-write, create and moved-to events from its own
thread; they are handed to the event loop with ``call_soon_threadsafe``. Events are lost
while the daemon is down or when the kernel queue overflows, so a full scan runs at start
and periodically. Either way a path only becomes a candidate: it is taken once its size
and mtime have been still for ``settle_seconds`` (a copy over SMB arrives in pieces).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from gateway.config import Channel
from gateway.fsutil import TEMP_PREFIX
from gateway.names import is_temporary

MAX_PENDING = 20_000  # beyond this, new candidates wait for the next rescan
LOOK_AHEAD = 64  # entries examined beyond the number wanted (vanished or changed ones are skipped)


@dataclass
class _Pending:
    channel: Channel
    size: int
    mtime_ns: int
    still_since: float


class Settler:
    """Candidates waiting until their size and mtime stop changing."""

    def __init__(self, settle_seconds: float) -> None:
        self.settle_seconds = settle_seconds
        self._pending: dict[Path, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def offer(self, channel: Channel, path: Path) -> None:
        if path in self._pending or len(self._pending) >= MAX_PENDING or not wanted(path):
            return
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            return
        self._pending[path] = _Pending(channel, info.st_size, info.st_mtime_ns, time.monotonic())

    def oldest_age(self) -> float:
        """Seconds the longest-waiting candidate has been still (entries are in still-since order)."""
        first = next(iter(self._pending.values()), None)
        return time.monotonic() - first.still_since if first is not None else 0.0

    def discard(self, path: Path) -> None:
        self._pending.pop(path, None)

    def ready(self, limit: int) -> list[tuple[Channel, Path]]:
        """Up to ``limit`` paths whose size and mtime held still for ``settle_seconds``.

        Entries are kept in the order they last changed, so only those already due are
        looked at: the cost per call does not grow with the number of waiting files.
        """
        now = time.monotonic()
        ready: list[tuple[Channel, Path]] = []
        # a bounded look at the front: copying all waiting entries per call would grow with them
        for path, pending in list(itertools.islice(self._pending.items(), limit + LOOK_AHEAD)):
            if len(ready) >= limit or now - pending.still_since < self.settle_seconds:
                break
            try:
                info = path.lstat()
            except FileNotFoundError:
                del self._pending[path]
                continue
            if stat.S_ISREG(info.st_mode) and (info.st_size, info.st_mtime_ns) != (
                pending.size,
                pending.mtime_ns,
            ):
                del self._pending[path]  # changed: back of the line, wait again
                self._pending[path] = _Pending(pending.channel, info.st_size, info.st_mtime_ns, now)
            else:
                ready.append((pending.channel, path))
        return ready


def wanted(path: Path) -> bool:
    """Temporary names wait until they are renamed; our own temp files are never input."""
    return not (is_temporary(path.name) or path.name.startswith(TEMP_PREFIX))


def scan_tree(root_dir: Path) -> Iterator[Path]:
    """Every non-directory entry below ``root_dir``; a symlinked folder is an entry, not followed."""
    for root, dirs, files in os.walk(root_dir, followlinks=False):
        for name in files:
            yield Path(root) / name
        for name in dirs:
            if (Path(root) / name).is_symlink():
                yield Path(root) / name


class _Handler(FileSystemEventHandler):
    def __init__(self, channel: Channel, notify: Callable[[Channel, Path], None]) -> None:
        self._channel = channel
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type in ("created", "moved"):  # a folder moved in brings files along
                target = event.dest_path if event.event_type == "moved" else event.src_path
                for path in scan_tree(Path(os.fsdecode(target))):
                    self._notify(self._channel, path)
            return
        if event.event_type in ("closed", "created"):
            self._notify(self._channel, Path(os.fsdecode(event.src_path)))
        elif event.event_type == "moved":
            self._notify(self._channel, Path(os.fsdecode(event.dest_path)))


class InboxWatcher:
    """inotify watches on every inbox, reporting candidates into the event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_candidate: Callable[[Channel, Path], None]
    ) -> None:
        self._loop = loop
        self._on_candidate = on_candidate
        self._observer: BaseObserver | None = None

    def start(self, channels: tuple[Channel, ...]) -> None:
        observer = Observer()
        for channel in channels:
            observer.schedule(_Handler(channel, self._from_thread), str(channel.inbox), recursive=True)
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    @property
    def running(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def _from_thread(self, channel: Channel, path: Path) -> None:
        self._loop.call_soon_threadsafe(self._on_candidate, channel, path)
