"""`mukaika backup PATH`: a whole, consistent copy of the journal, even while it is written to."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from gateway.backup import BackupError, backup_journal
from gateway.cli import main
from gateway.journal import Journal


def fill(journal: Journal, count: int, prefix: str = "t") -> None:
    for number in range(count):
        journal.create(f"{prefix}{number}", "c", (), f"/in/{number}", f"{number}.txt", f"{number}.txt")


def transfers_in(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM transfers").fetchone()[0])


def test_a_copy_taken_while_transfers_commit_is_one_whole_commit(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    fill(journal, 200)
    done = threading.Event()

    def write() -> None:  # a transfer and its placement per commit, as the daemon does
        number = 0
        while not done.is_set():
            journal.create(f"w{number}", "c", (), "/in/w", "w.txt", "w.txt")
            number += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copies = [backup_journal(tmp_path / "journal.sqlite", tmp_path / f"copy{n}.sqlite") for n in range(5)]
    finally:
        done.set()
        writer.join()
    counts = [transfers_in(copy) for copy in copies]
    assert counts == sorted(counts) and counts[0] >= 200
    for copy in copies:
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, no -wal
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp left


def test_an_older_backup_is_replaced_whole_and_a_directory_gets_a_dated_copy(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    fill(journal, 3)
    journal.close()  # the daemon is down
    target = tmp_path / "backup.sqlite"
    target.write_bytes(b"yesterday's backup")
    assert backup_journal(tmp_path / "journal.sqlite", target) == target
    assert transfers_in(target) == 3
    # no -wal or -shm left behind, owned by whoever ran the backup
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.sqlite", "journal.sqlite"]
    folder = tmp_path / "backups"
    folder.mkdir()
    written = backup_journal(tmp_path / "journal.sqlite", folder)
    assert written.parent == folder and written.name.startswith("journal-") and transfers_in(written) == 3


def test_a_failed_copy_leaves_the_previous_backup_and_no_temp_file(tmp_path: Path) -> None:
    broken = tmp_path / "journal.sqlite"
    broken.write_bytes(b"not a database" * 100)
    target = tmp_path / "backup.sqlite"
    target.write_bytes(b"yesterday's backup")
    with pytest.raises(BackupError):
        backup_journal(broken, target)
    assert target.read_bytes() == b"yesterday's backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.sqlite", "journal.sqlite"]


def test_a_journal_in_postgresql_is_left_to_pg_dump(tmp_path: Path) -> None:
    target = tmp_path / "backup.sqlite"
    with pytest.raises(BackupError) as refused:
        backup_journal("postgresql://mukaika:s3cret@db.example.lg.jp/journal", target)
    assert "pg_dump" in str(refused.value) and "db.example.lg.jp" in str(refused.value)
    assert "s3cret" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_the_command_says_what_it_wrote_or_why_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mukaika.toml"
    config.write_text(f'[gateway]\nspool_dir = "{tmp_path / "spool"}"\n')
    assert main(["backup", str(tmp_path / "copy.sqlite"), "--config", str(config)]) == 2
    assert "no journal" in capsys.readouterr().err
    fill(Journal(tmp_path / "spool" / "journal.sqlite"), 2)
    assert main(["backup", str(tmp_path / "copy.sqlite"), "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"backup: {tmp_path / 'copy.sqlite'}\n"
    assert transfers_in(tmp_path / "copy.sqlite") == 2
    assert main(["backup", str(tmp_path / "absent" / "copy.sqlite"), "--config", str(config)]) == 1
    assert "no backup written" in capsys.readouterr().err
