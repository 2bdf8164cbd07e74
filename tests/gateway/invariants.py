"""The no-loss invariant, checked after a run against the journal and the directories.

Every input ends in exactly one final state with the verdict it deserves (or a refusal
for being interrupted), the outbox and rejected/ hold exactly the files the journal placed
and nothing twice, nothing unsanitised is released, and no work is left in the spool.
Shared by the crash test and `make soak` (bench/soak.py), so it does not import pytest.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    state: str
    reason_code: str | None


@dataclass(frozen=True)
class GatewayDirs:
    spool: Path
    inbox: Path
    outbox: Path
    rejected: Path
    journal_url: str | None = None  # several nodes: the PostgreSQL journal (else the spool's SQLite)
    channel: str | None = None  # only this channel's transfers (several channels on one spool)


def read_journal(spool: Path, url: str | None = None) -> tuple[list[Row], list[Row]]:
    """All transfer rows and all placement rows (read-only: the daemon may still run)."""
    if url is not None:
        with psycopg.connect(url, row_factory=dict_row) as pg:
            return pg.execute("SELECT * FROM transfers").fetchall(), pg.execute(
                "SELECT * FROM placements"
            ).fetchall()
    db = sqlite3.connect(f"{(spool / 'journal.sqlite').absolute().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM transfers").fetchall(), db.execute(
            "SELECT * FROM placements"
        ).fetchall()
    finally:
        db.close()


def inbox_name(row: Row) -> str:
    """The input's path below the inbox, as the journal recorded it."""
    return "/".join([*json.loads(row["rel_dir"]), row["name_in"]])


def outcomes(spool: Path, url: str | None = None, channel: str | None = None) -> dict[str, list[Outcome]]:
    """Inbox name → the outcome of every transfer recorded for it (one, when all is well)."""
    found: dict[str, list[Outcome]] = {}
    for row in read_journal(spool, url)[0]:
        if channel is None or row["channel"] == channel:
            found.setdefault(inbox_name(row), []).append(Outcome(row["state"], row["reason_code"]))
    return found


def entries(directory: Path) -> list[Path]:
    """Every non-directory entry below ``directory`` (hidden ones too)."""
    if not directory.exists():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_symlink() or not p.is_dir())


def no_loss_violations(dirs: GatewayDirs, expected: Mapping[str, str], *, tolerated: Collection[str] = (),
                       canary: bytes | None = None) -> list[str]:  # fmt: skip
    """What breaks the invariant, as sentences; empty when it holds.

    ``expected`` maps each input's inbox name to ``"released"`` or the reason code of its
    refusal; an input may instead be refused with one of the ``tolerated`` codes (it was in
    flight at too many kills). ``canary`` is a byte string no released file may contain.
    """
    problems: list[str] = []
    every_row, every_placement = read_journal(dirs.spool, dirs.journal_url)
    rows = [row for row in every_row if dirs.channel is None or row["channel"] == dirs.channel]
    ids = {row["id"] for row in rows}
    placements = [p for p in every_placement if p["transfer_id"] in ids]
    found = outcomes(dirs.spool, dirs.journal_url, dirs.channel)
    for name, verdict in sorted(expected.items()):
        results = found.get(name, [])
        if len(results) != 1:
            problems.append(f"{name}: {len(results)} transfers in the journal, expected 1")
            continue
        state, code = results[0].state, results[0].reason_code
        if state not in ("released", "rejected"):
            problems.append(f"{name}: left in state {state}")
        elif state == "rejected" and code in tolerated:
            continue
        elif (state == "released") != (verdict == "released") or (state == "rejected" and code != verdict):
            problems.append(f"{name}: {state} ({code}), expected {verdict}")
    problems += [f"{name}: in the journal but never dropped" for name in sorted(set(found) - set(expected))]

    # the outbox and rejected/ hold exactly what the journal placed, each file once
    placed = Counter(p["final_path"] for p in placements)
    problems += [f"placement of {p['transfer_id']} ({p['key']}) never done" for p in placements
                 if p["final_path"] is None]  # fmt: skip
    problems += [f"{path} placed {n} times" for path, n in placed.items() if path is not None and n > 1]
    on_disk = {str(p) for d in (dirs.outbox, dirs.rejected) for p in entries(d)}
    problems += [f"{path} not placed by any transfer" for path in sorted(on_disk - set(placed))]
    problems += [f"{path} placed but missing" for path in sorted(set(placed) - on_disk - {None})]
    released_ids = {row["id"] for row in rows if row["state"] == "released"}
    for placement in placements:
        path = placement["final_path"]
        if path is None or not Path(path).exists():
            continue
        data = Path(path).read_bytes()
        if hashlib.sha256(data).hexdigest() != placement["sha256"]:
            problems.append(f"{path}: not the bytes the journal planned to place")
        if placement["key"] == "output" and placement["transfer_id"] not in released_ids:
            problems.append(f"{path}: the output of a transfer that was not released")
        if canary is not None and placement["key"] == "output" and canary in data:
            problems.append(f"{path}: released with the canary {canary!r} still inside")

    # no work left behind in the spool or the inbox
    for leftover in ("incoming", "work"):
        problems += [
            f"spool/{leftover}/{p.name} left behind" for p in sorted((dirs.spool / leftover).iterdir())
        ]
    staged = sum(row["sha256_in"] is not None for row in every_row)
    originals = len(list((dirs.spool / "originals").iterdir()))
    if originals != staged:
        problems.append(f"{originals} originals retained for {staged} staged transfers")
    problems += [f"{p} still in the inbox" for p in entries(dirs.inbox)]
    return problems
