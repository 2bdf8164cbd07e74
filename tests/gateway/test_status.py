"""`mukaika status`: the journal of a spool the daemon has worked on, read without writing to it."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.journal import Journal
from tests.gateway.daemon_harness import RunningGateway, png_bytes


def add_transfer(journal: Journal, transfer_id: str, name: str, **values: object) -> None:
    journal.create(transfer_id, "test", (), f"/in/{name}", name, name)
    journal.update(transfer_id, **values)


@pytest.mark.slow
def test_status_counts_verdicts_lists_gateway_errors_and_the_oldest_unfinished_transfer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RunningGateway(tmp_path) as gateway:
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        (gateway.inbox / "setup.exe").write_bytes(b"MZ" + b"\0" * 64)
        gateway.wait_for_outputs(released=1, rejected=1)
        gateway.wait_for(
            lambda: gateway.log_text().count('"event": "transfer"') == 2, 10, "two transfer lines"
        )
    # what the daemon writes when a worker dies, and a transfer a crash left mid-way
    journal = Journal(gateway.spool / "journal.sqlite")
    add_transfer(journal, "t-crash", "broken.pdf", state="rejected", reason_code="worker.crash",
                 reason_message="worker exited with status 1")  # fmt: skip
    add_transfer(journal, "t-verify", "odd.docx", state="rejected", reason_code="verify.type_changed",
                 reason_message="output detected as zip")  # fmt: skip
    add_transfer(journal, "t-open", "big.pdf", state="sanitising")
    with journal.transaction() as db:
        db.execute("UPDATE transfers SET created = ? WHERE id = 't-open'", (time.time() - 3600,))
    journal.close()
    database = gateway.spool / "journal.sqlite"
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    assert main(["status", "--config", str(gateway.config)]) == 0
    out = capsys.readouterr().out
    assert "unfinished: sanitising 1\n" in out
    assert "oldest unfinished: 3600 s (t-open, big.pdf, sanitising)" in out
    assert "verdicts (all time): released 1, rejected 3, failed 0\n" in out
    assert "verdicts (last 24 h): released 1, rejected 3, failed 0\n" in out
    errors = out.split("last errors:\n", 1)[1].splitlines()
    assert len(errors) == 2  # policy.reject is the file's fault, not the gateway's
    assert "t-verify  test/odd.docx  verify.type_changed: output detected as zip" in errors[0]
    assert "t-crash  test/broken.pdf  worker.crash: worker exited with status 1" in errors[1]

    assert main(["status", "--config", str(gateway.config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unfinished"] == {"sanitising": 1}
    assert report["verdicts"]["all"] == {"released": 1, "rejected": 3, "failed": 0}
    assert report["oldest_unfinished"]["id"] == "t-open"
    assert 3600 <= report["oldest_unfinished"]["age_seconds"] < 3700
    assert [e["reason"] for e in report["last_errors"]] == ["verify.type_changed", "worker.crash"]
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_old_verdicts_count_only_in_the_all_time_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = RunningGateway(tmp_path)  # its config only; the daemon is not started
    journal = Journal(gateway.spool / "journal.sqlite")
    add_transfer(journal, "t-old", "old.png", state="released")
    add_transfer(journal, "t-new", "new.png", state="released")
    with journal.transaction() as db:
        db.execute("UPDATE transfers SET finished = ? WHERE id = 't-old'", (time.time() - 2 * 86400,))
    journal.close()
    assert main(["status", "--config", str(gateway.config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdicts"] == {
        "all": {"released": 2, "rejected": 0, "failed": 0},
        "last_24h": {"released": 1, "rejected": 0, "failed": 0},
    }
    assert report["unfinished"] == {} and report["oldest_unfinished"] is None and report["last_errors"] == []


def test_status_before_the_first_run_exits_2_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = RunningGateway(tmp_path)
    assert main(["status", "--config", str(gateway.config)]) == 2
    err = capsys.readouterr().err
    assert f"no journal at {gateway.spool / 'journal.sqlite'}" in err
    assert not gateway.spool.exists()  # reading the status created nothing
