"""How journal values are shown to staff: sizes, where a file was placed, pages of a long list,
findings in the chosen language, and which originals an approver must confirm.

The journal keeps codes, byte counts and the daemon's own paths; staff read labels from the
catalogues, sizes as Explorer shows them, and a place as channel, folder and relative name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.config import MAIL_CHANNEL, Config
from gateway.journal import Transfer
from gateway.smtp.queue import mail_dirs
from gateway.spool import Spool
from sanitizers.constructs import ACTIONS, construct_label
from sanitizers.details import staff_detail
from sanitizers.types import TYPES

PAGE_SIZE = 100
_UNITS = ("KB", "MB", "GB", "TB")


def human_size(size: int | None, lang: str) -> str:
    """1536 → "1.5 KB", in binary units as Windows Explorer counts them."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes" if lang == "en" else f"{size} バイト"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


@dataclass(frozen=True)
class Place:
    """Where the daemon put a file, as staff know it: a channel's folder and the name under it."""

    channel: str
    area: str  # "outbox" | "rejected" | "approved" | "mail" | "other" (a folder no longer configured)
    relative: str


def place_of(path: str | None, channel: str, config: Config, spool: Spool) -> Place | None:
    if not path:
        return None
    placed = Path(path).absolute()
    areas: list[tuple[str, Path]] = []
    configured = config.channel(channel)
    if configured is not None:
        areas += [("outbox", configured.outbox), ("rejected", configured.rejected),
                  ("approved", configured.approved_dir)]  # fmt: skip
    if channel == MAIL_CHANNEL:
        _, outgoing, refused = mail_dirs(spool)
        areas += [("approved", config.smtp.approved), ("mail", outgoing), ("mail", refused)]
    for area, root in areas:
        if placed.is_relative_to(root.absolute()):
            return Place(channel, area, placed.relative_to(root.absolute()).as_posix())
    return Place(channel, "other", placed.name)


@dataclass(frozen=True)
class Page:
    """One page of a list that has ``total`` rows in all (numbers from 1)."""

    number: int
    total: int
    size: int = PAGE_SIZE

    @classmethod
    def asked(cls, raw: str, total: int, size: int = PAGE_SIZE) -> Page:
        number = int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1
        return cls(max(1, min(number, max(1, -(-total // size)))), total, size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None


def construct_text(construct: str, lang: str) -> str:
    label = construct_label(construct)
    return label.text(lang) if label is not None else construct


def action_text(action: str, lang: str) -> str:
    label = ACTIONS.get(action)
    return label.text(lang) if label is not None else action


def location_text(location: str | None) -> str:
    """A finding's location; a method that fell back carries its refusal's detail there."""
    return staff_detail(location)


@dataclass(frozen=True)
class Risk:
    """Why an approver confirms before an original is handed back, and the word they confirm with."""

    kind: str  # a FileType.risk, or "unknown" when the type was never determined
    file_type: str

    @property
    def token(self) -> str:
        return self.file_type or "unknown"


def original_risk(transfer: Transfer) -> Risk | None:
    """The risk of handing back ``transfer``'s original, or None when its type carries none."""
    known = TYPES.get(transfer.file_type or "")
    if known is None:
        return Risk("unknown", "")
    return Risk(known.risk, known.name) if known.risk else None
