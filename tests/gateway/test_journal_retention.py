"""Journal retention: finished rows past journal_retention_days go; whatever still matters stays."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from gateway import retention
from gateway.config import ConfigError, load_config
from gateway.journal import OPEN_MAIL_STATES, AuditEntry, Journal, Placement
from gateway.retention import purge_journal
from gateway.smtp.queue import OPEN_STATES
from sanitizers.registry import default_registry
from tests.gateway.daemon_harness import MUKAIKA, RunningGateway, png_bytes

DAY = 86400.0
NOW = 1_800_000_000.0


def add(journal: Journal, transfer_id: str, state: str, *, age_days: float = 100, purged: bool = True,
        channel: str = "c") -> None:  # fmt: skip
    """A transfer in ``state``, created (and finished, if final) ``age_days`` before NOW."""
    journal.create(transfer_id, channel, (), f"/in/{transfer_id}", transfer_id, transfer_id)
    journal.plan_placements(
        transfer_id, [Placement("output", "/out", transfer_id, "/spool/x", "00")], state=state
    )
    when = NOW - age_days * DAY
    with journal.transaction() as db:
        db.execute("UPDATE transfers SET created = ?, finished = CASE WHEN finished IS NULL THEN NULL ELSE ? END,"
                   " original_purged = ? WHERE id = ?", (when, when, int(purged), transfer_id))  # fmt: skip


def add_mail(journal: Journal, transfer_id: str, mail_state: str) -> None:
    add(journal, transfer_id, "released", channel="smtp")
    with journal.transaction() as db:
        db.execute("INSERT INTO mail (transfer_id, mail_from, recipients, subject, message_id, peer, received,"
                   " state, next_attempt) VALUES (?, 'a@x', '[]', 's', 'm', 'p', ?, ?, ?)",
                   (transfer_id, NOW - 100 * DAY, mail_state, NOW))  # fmt: skip


def add_request(journal: Journal, transfer_id: str, state: str) -> None:
    request_id = journal.request_release(
        transfer_id, "op", "needed", NOW + DAY, AuditEntry("op", "release.request")
    )
    with journal.transaction() as db:
        db.execute("UPDATE release_requests SET state = ? WHERE id = ?", (state, request_id))


def ids(journal: Journal, table: str = "transfers", column: str = "id") -> list[str]:
    return sorted(row[0] for row in journal.rows(f"SELECT {column} FROM {table}"))


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite")


def test_only_finished_rows_nothing_waits_on_go_with_their_other_rows(journal: Journal) -> None:
    for state in ("released", "rejected", "failed"):
        add(journal, f"old-{state}", state)
    add(journal, "recent", "released", age_days=10)
    add(journal, "original-kept", "released", purged=False)  # its original is still retained
    for state in ("held", "awaiting_approval", "sanitising", "releasing"):  # never final, however old
        add(journal, f"open-{state}", state)
    add(journal, "requested", "released", purged=False)
    add_request(journal, "requested", "pending")
    add(journal, "denied", "released", purged=False)
    add_request(journal, "denied", "denied")
    journal.mark_purged("denied")
    add_mail(journal, "mail-delivered", "delivered")
    add_mail(journal, "mail-deferred", "deferred")
    journal.audit(AuditEntry("boss", "release.deny", "request:2", detail="transfer denied"))

    assert purge_journal(journal, 30, now=NOW) == 5
    assert ids(journal) == [
        "mail-deferred", "open-awaiting_approval", "open-held", "open-releasing", "open-sanitising",
        "original-kept", "recent", "requested",
    ]  # fmt: skip
    assert ids(journal, "placements", "transfer_id") == ids(journal)
    assert ids(journal, "mail", "transfer_id") == ["mail-deferred"]
    assert ids(journal, "release_requests", "transfer_id") == ["requested"]
    assert journal.rows("PRAGMA foreign_key_check") == []
    assert [row["action"] for row in journal.rows("SELECT action FROM audit")] == [
        "release.request", "release.request", "release.deny"]  # fmt: skip


def test_rows_go_in_batches_and_the_purge_stops_when_asked(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH_ROWS", 10)
    monkeypatch.setattr(retention, "PAUSE_SECONDS", 0)
    for number in range(35):
        add(journal, f"t{number:02}", "released", age_days=100 - number)
    batches: list[int] = []
    purge_finished = journal.purge_finished

    def counted(cutoff: float, limit: int) -> int:
        batches.append(purge_finished(cutoff, limit))
        return batches[-1]

    monkeypatch.setattr(journal, "purge_finished", counted)
    assert purge_journal(journal, 30, now=NOW, stopping=lambda: len(batches) == 2) == 20
    assert ids(journal)[0] == "t20"  # the oldest went first
    assert purge_journal(journal, 30, now=NOW) == 15
    assert batches == [10, 10, 10, 5] and ids(journal) == []


def test_zero_days_keeps_every_row(journal: Journal) -> None:
    add(journal, "ancient", "released", age_days=10_000)
    assert purge_journal(journal, 0, now=NOW) == 0
    assert ids(journal) == ["ancient"]


def test_the_mail_states_kept_are_the_relays_open_ones() -> None:
    assert OPEN_MAIL_STATES == OPEN_STATES


@pytest.mark.parametrize(("days", "ok"), [(0, True), (30, True), (400, True), (29, False)])
def test_journal_retention_is_off_or_at_least_the_originals_retention(
    tmp_path: Path, days: int, ok: bool
) -> None:
    path = tmp_path / "mukaika.toml"
    path.write_text(f"[gateway]\nretention_days = 30\njournal_retention_days = {days}\n")
    if ok:
        assert load_config(str(path), default_registry()).gateway.journal_retention_days == days
    else:
        with pytest.raises(ConfigError, match="journal_retention_days"):
            load_config(str(path), default_registry())


@pytest.mark.slow
def test_the_daemon_purges_old_rows_at_start_and_a_backup_copies_the_rest_while_it_runs(
    tmp_path: Path,
) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "old.png").write_bytes(png_bytes())
        (gateway.inbox / "old.exe").write_bytes(b"MZ" + b"\0" * 64)
        gateway.wait_for_states("released", "rejected")
    with sqlite3.connect(gateway.spool / "journal.sqlite") as db:  # a hundred days pass
        db.execute("UPDATE transfers SET created = created - 8640000, finished = finished - 8640000")
    gateway = RunningGateway(tmp_path, extra="journal_retention_days = 30")
    with gateway:
        gateway.wait_for(lambda: "journal purged" in gateway.log_text(), 30, "the purge at start-up")
        (gateway.inbox / "new.png").write_bytes(png_bytes((1, 2, 3)))
        gateway.wait_for_states("released")  # the old rows are gone, the new one is there
        backup = subprocess.run([str(MUKAIKA), "backup", str(tmp_path / "copy.sqlite"), "--config",
                                 str(gateway.config)], capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert backup.returncode == 0, backup.stderr
    with sqlite3.connect(tmp_path / "copy.sqlite") as copy:
        ((new_id, name),) = copy.execute("SELECT id, name FROM transfers").fetchall()
    assert name == "new.png"
    assert [p.name for p in (gateway.spool / "originals").iterdir()] == [new_id]  # purged before their rows
    assert gateway.files(gateway.outbox) == ["new.png", "old.png"]  # released files are never touched
