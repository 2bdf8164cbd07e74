"""The running daemon's state file: how `mukaika reload` finds the daemon and hears the result.

A signal carries no answer, so the daemon writes its pid, a count of the reloads it has
done and the result of the last one (applied with its changes, or refused with the
problems) into ``daemon.json``: in the runtime directory systemd gives the service
(/run/mukaika, ``$RUNTIME_DIRECTORY``, also set for ``ExecReload=``), else in the spool.
`mukaika reload` sends SIGHUP and waits for the count to move. The process start time is
kept beside the pid, so that a file left by a daemon that died is not believed of another
process that got the same pid.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gateway.config import Config

STATE_NAME = "daemon.json"


@dataclass(frozen=True)
class ReloadResult:
    applied: bool
    problems: list[str] = field(default_factory=list)  # "file: key: what is wrong", when refused
    changes: list[str] = field(default_factory=list)  # "key: old -> new", when applied


@dataclass(frozen=True)
class RunState:
    pid: int
    started: str  # the process start time (/proc/PID/stat), which a reused pid does not share
    reloads: int = 0
    last_reload: ReloadResult | None = None


def state_path(config: Config) -> Path:
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return (Path(runtime) if runtime else config.gateway.spool_dir.absolute()) / STATE_NAME


def process_started(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return None if fields[0] == "Z" else fields[19]


def own_state(reloads: int = 0, last_reload: ReloadResult | None = None) -> RunState:
    pid = os.getpid()
    return RunState(pid, process_started(pid) or "", reloads, last_reload)


def write_state(path: Path, state: RunState) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(asdict(state), ensure_ascii=False), encoding="utf-8")
    temp.replace(path)


def read_state(path: Path) -> RunState | None:
    """The state of the daemon running now, or None (no file, or its process is gone)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        last = raw.get("last_reload")
        state = RunState(int(raw["pid"]), str(raw["started"]), int(raw["reloads"]),
                         ReloadResult(**last) if last else None)  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if process_started(state.pid) == state.started else None


def remove_state(path: Path) -> None:
    current = read_state(path)
    if current is not None and current.pid == os.getpid():
        path.unlink(missing_ok=True)
