"""The share folders of a config: the ones an admin named must be there, and stay there.

A folder an admin's file names (an inbox, an outbox, a rejected or approved folder) is a
share that Samba exports or a mount brings: if it is missing, the path is mistyped or the
share is not mounted, and creating it would hide that (releases would land on the local
disk, where nobody looks). So it is refused by name, at ``check-config``, at start and at
every reload. Only folders nobody named are created: the spool, the embedded default's
channels that ``make run`` uses, and an ``approved`` folder left to its default beside the
outbox.

While the daemon runs, a share can still vanish (removed, or unmounted: the mount point
stays, but is no longer a mount point). ``ShareWatch`` notices both; /readyz fails and the
log says which folder, until it is back.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.config import Config, ConfigError

log = structlog.get_logger("mukaika.shares")


@dataclass(frozen=True)
class ShareFolder:
    key: str  # the key path naming it, "channels[0].inbox"
    path: Path  # absolute
    named: bool  # an admin's file named it: it must exist; otherwise a default the daemon creates


def share_folders(config: Config) -> list[ShareFolder]:
    folders = []
    for index, channel in enumerate(config.channels):
        for name in ("inbox", "outbox", "rejected", "approved"):
            key = f"channels[{index}].{name}"
            path = channel.approved_dir if name == "approved" else getattr(channel, name)
            folders.append(ShareFolder(key, path.absolute(), config.named(key)))
    if config.smtp.enabled:
        folders.append(
            ShareFolder("smtp.approved", config.smtp.approved.absolute(), config.named("smtp.approved"))
        )
    return folders


def unavailable(path: Path) -> str | None:
    """Why ``path`` cannot serve as a share folder now, or None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as exc:
        return f"{path} cannot be reached: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a folder"
    return None


def require_share_folders(config: Config) -> None:
    """ConfigError naming every folder an admin named that is not there."""
    missing = [
        (folder.key, why)
        for folder in share_folders(config)
        if folder.named and (why := unavailable(folder.path)) is not None
    ]
    if missing:
        fix = "create it or mount the share first (the gateway creates only the spool)"
        raise ConfigError(config.source, [f"{key}: {why}; {fix}" for key, why in missing],
                          [config.origin(key) for key, _ in missing])  # fmt: skip


def create_default_folders(config: Config) -> None:
    for folder in share_folders(config):
        if not folder.named:
            folder.path.mkdir(parents=True, exist_ok=True)


class ShareWatch:
    """Whether every share folder is still what it was when the config was adopted."""

    def __init__(self, config: Config) -> None:
        self.folders = share_folders(config)
        self.mounted = {f.key: os.path.ismount(f.path) for f in self.folders}
        self.reported: dict[str, str] = {}

    def problems(self) -> dict[str, str]:
        """Key path → what is wrong, for every folder that is gone."""
        found = {}
        for folder in self.folders:
            why = unavailable(folder.path)
            if why is None and self.mounted[folder.key] and not os.path.ismount(folder.path):
                why = f"{folder.path} is no longer a mount point (the share was unmounted)"
            if why is not None:
                found[folder.key] = why
        return found

    def review(self) -> bool:
        """Log folders that went away or came back since the last review; True when the last
        missing one is back (inotify watches on a vanished folder are gone: start them again)."""
        problems = self.problems()
        for key in problems.keys() - self.reported.keys():
            log.error("share folder unavailable", key=key, problem=problems[key])
        for key in self.reported.keys() - problems.keys():
            log.info("share folder available again", key=key)
        back = bool(self.reported) and not problems
        self.reported = problems
        return back
