"""The journal's contract, one suite run on both databases: SQLite in the spool and PostgreSQL.

Races are made real rather than hoped for: a third journal holds the contested row (or, on
SQLite, the write lock) while the racers start, so that every racer waits on it and then
finds what the others committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.journal import (
    AuditEntry,
    DecisionRefusedError,
    Journal,
    JournalError,
    JournalUnavailableError,
    JournalView,
    Placement,
    open_journal,
)
from gateway.journal_sql import Session
from gateway.smtp.queue import MailView
from tests.postgres_harness import PostgresCluster, running_cluster

DAY = 86400.0
WAIT = 0.3  # long enough for a racer to reach the lock it waits on


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "spool" / "journal.sqlite"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture
def journals(target: Path | str) -> Iterator[Callable[[], Journal]]:
    """Opens journals on the test's database (each a connection of its own), closed at the end."""
    opened: list[Journal] = []

    def another() -> Journal:
        opened.append(open_journal(target))
        return opened[-1]

    yield another
    for journal in opened:
        journal.close()


@pytest.fixture
def journal(journals: Callable[[], Journal]) -> Journal:
    return journals()


def add(journal: Journal, transfer_id: str, state: str = "admitted", channel: str = "docs", name: str = "",
        **values: Any) -> None:  # fmt: skip
    name = name or f"{transfer_id}.pdf"
    journal.create(transfer_id, channel, ("a", "b"), f"/in/{name}", name, name)
    if state != "admitted" or values:
        journal.update(transfer_id, state=state, **values)


def awaiting(journal: Journal, transfer_id: str) -> None:
    add(journal, transfer_id, "sanitising")
    journal.plan_placements(transfer_id, [Placement("output", "/out", f"{transfer_id}.pdf", "/spool/x", "aa")],
                            state="awaiting_approval")  # fmt: skip


def set_column(journal: Journal, table: str, column: str, value: object, row_id: object) -> None:
    with journal.transaction() as db:
        db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row_id))


def raw_mark(journal: Journal) -> str:
    """The placeholder of the driver's own connection (``then`` gets that connection)."""
    return "?" if journal.backend == "sqlite" else "%s"


def transfer_row(transfer_id: str) -> Callable[[Session], object]:
    return lambda db: db.locking("SELECT id FROM transfers WHERE id = ?", (transfer_id,)).fetchone()


def race(holder: Journal, hold: Callable[[Session], object], *calls: Callable[[], object]) -> list[object]:
    """Start every call while ``holder`` holds what ``hold`` locks (on SQLite: the whole file), then
    let them go at once; each call's result or exception."""
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    with holder.transaction() as db:
        hold(db)
        for thread in threads:
            thread.start()
        time.sleep(WAIT)
        assert all(thread.is_alive() for thread in threads), "a racer did not wait for the lock"
    for thread in threads:
        thread.join(30)
    return results


# ── states ─────────────────────────────────────────────────────────────────────────────
def test_a_transfer_goes_through_its_states_and_is_finished_once_final(journal: Journal) -> None:
    before = time.time()
    created = journal.create("t1", "docs", ("年度", "b"), "/in/年度/b/a.pdf", "a.pdf", "a.pdf")
    assert (created.state, created.folders, created.finished) == ("admitted", ("年度", "b"), None)
    assert created.attempts == 0
    assert before <= created.created <= time.time()
    steps = [("staged", {"size_in": 3_000_000_000, "sha256_in": "ab" * 32}), ("sanitising", {"attempts": 1}),
             ("releasing", {"file_type": "pdf", "method": "rebuild", "name_out": "a.pdf"})]  # fmt: skip
    for state, values in steps:
        updated = journal.update("t1", state=state, **values)
        assert updated.state == state and updated.finished is None
        assert journal.get("t1") == updated
    assert [t.id for t in journal.unfinished()] == ["t1"]
    done = journal.update("t1", state="released", path_out="/out/a.pdf", size_out=1234)
    assert done.finished is not None and done.finished == done.updated >= done.created
    assert journal.get("t1").size_in == 3_000_000_000  # past 32 bits
    assert (done.path_out, done.size_out, done.method) == ("/out/a.pdf", 1234, "rebuild")
    assert journal.unfinished() == []
    assert journal.view.transfer("t1") is not None and journal.view.transfer("t2") is None


def test_unfinished_lists_every_transfer_not_final_oldest_first(journal: Journal) -> None:
    for transfer_id, state in (("old-held", "held"), ("done", "rejected"), ("failed", "failed"),
                               ("new-staged", "staged"), ("released", "released")):  # fmt: skip
        add(journal, transfer_id, state)
    set_column(journal, "transfers", "created", 1.0, "old-held")
    assert [t.id for t in journal.unfinished()] == ["old-held", "new-staged"]


def test_updates_are_checked_against_the_columns_and_states(journal: Journal) -> None:
    add(journal, "t1")
    with pytest.raises(ValueError, match="colour"):
        journal.update("t1", colour="red")
    with pytest.raises(ValueError, match="finishing"):
        journal.update("t1", state="finishing")
    with pytest.raises(ValueError, match="colour"):
        journal.update("t1", expect={"colour": "red"}, state="staged")
    with pytest.raises(KeyError):
        journal.update("missing", state="staged")
    with pytest.raises(KeyError):
        journal.get("missing")
    assert journal.get("t1").state == "admitted"


def test_a_gateway_node_sees_what_waits_in_its_own_channels_past_any_backlog_of_others(
    journal: Journal,
) -> None:
    for number in range(5):
        add(journal, f"w{number}", "releasing", channel="west")
    add(journal, "e-staged", "staged", channel="east")
    add(journal, "e-releasing", "releasing", channel="east")
    add(journal, "e-sanitising", "sanitising", channel="east")
    add(journal, "n-rejecting", "rejecting", channel="north")
    found = journal.view.waiting_in(("releasing", "rejecting", "staged"), ["east", "north"], limit=3)
    assert [t.id for t in found] == ["e-staged", "e-releasing", "n-rejecting"]
    assert journal.view.waiting_in(("releasing",), []) == []


def test_delete_removes_the_transfer_with_its_placements_and_mail(journal: Journal) -> None:
    add(journal, "t1", "sanitising")
    journal.plan_placements("t1", [Placement("output", "/out", "a", "/s", "00")], state="releasing")
    with journal.transaction() as db:
        db.execute("INSERT INTO mail (transfer_id, mail_from, recipients, subject, message_id, peer, received,"
                   " state, next_attempt) VALUES ('t1', 'a@x', '[]', '', '', 'p', 1, 'queued', 1)")  # fmt: skip
    journal.delete("t1")
    assert journal.view.transfer("t1") is None and journal.placements("t1") == []
    assert journal.rows("SELECT count(*) AS n FROM mail")[0]["n"] == 0


# ── placements ─────────────────────────────────────────────────────────────────────────
def test_placements_are_planned_exactly_once_and_recorded_where_they_landed(journal: Journal) -> None:
    add(journal, "t1", "sanitising")
    first = [
        Placement("output", "/out", "a.pdf", "/spool/w/a", "11"),
        Placement("reason", "/out", "a.txt", "/s/r", "22"),
    ]
    assert journal.plan_placements("t1", first, state="releasing") is True
    again = [Placement("output", "/elsewhere", "b.pdf", "/spool/w/b", "33")]
    assert journal.plan_placements("t1", again, state="releasing") is True  # recovery plans again
    assert journal.placements("t1") == first  # ordered by key; the first plan stands
    journal.placement_done("t1", "output", "/out/a (1).pdf")
    journal.placement_done("t1", "reason", "/out/a.txt", state="released", path_out="/out/a (1).pdf")
    placed = {p.key: p.final_path for p in journal.placements("t1")}
    assert placed == {"output": "/out/a (1).pdf", "reason": "/out/a.txt"}
    assert journal.get("t1").state == "released" and journal.get("t1").finished is not None


# ── conditional updates (several nodes) ────────────────────────────────────────────────
def test_an_expected_update_applies_only_while_the_row_holds_the_expected_values(journal: Journal) -> None:
    add(journal, "t1", "sanitising", attempts=2)
    assert journal.update("t1", expect={"state": "sanitising", "attempts": 1}, state="held") is None
    assert journal.update("t1", expect={"state": "staged", "attempts": 2}, state="held") is None
    assert journal.get("t1").state == "sanitising"
    moved = journal.update("t1", expect={"state": "sanitising", "attempts": 2, "finished": None}, attempts=3)
    assert moved is not None and moved.attempts == 3 and moved.state == "sanitising"
    assert journal.update("missing", expect={"state": "sanitising"}, state="held") is None
    journal.update("t1", state="failed")
    assert journal.update("t1", expect={"finished": None}, state="released") is None  # finished is set now
    assert journal.get("t1").state == "failed"


def test_planned_placements_with_an_expectation_not_met_record_nothing(journal: Journal) -> None:
    add(journal, "t1", "sanitising", attempts=1)
    output = [Placement("output", "/out", "a.pdf", "/s", "00")]
    assert journal.plan_placements("t1", output, expect={"attempts": 2}, state="releasing") is False
    assert journal.placements("t1") == [] and journal.get("t1").state == "sanitising"
    assert journal.plan_placements("t1", output, expect={"state": "sanitising", "attempts": 1},
                                   state="releasing", file_type="pdf") is True  # fmt: skip
    assert journal.placements("t1") == output and journal.get("t1").file_type == "pdf"


def test_two_nodes_updating_with_the_same_expectation_apply_exactly_once(
    journals: Callable[[], Journal],
) -> None:
    holder, first, second = journals(), journals(), journals()
    add(holder, "t1", "sanitising", attempts=1)
    expect = {"state": "sanitising", "attempts": 1}
    results = race(holder, transfer_row("t1"), lambda: first.update("t1", expect=expect, attempts=2, method="rebuild"),
                   lambda: second.update("t1", expect=expect, attempts=2, method="pdf"))  # fmt: skip
    applied = [r for r in results if r is not None]
    assert len(applied) == 1, results
    assert holder.get("t1").method == applied[0].method  # type: ignore[attr-defined]


def test_two_nodes_planning_the_same_outcome_record_one_plan(journals: Callable[[], Journal]) -> None:
    holder, first, second = journals(), journals(), journals()
    add(holder, "t1", "sanitising", attempts=1)

    def plan(journal: Journal, source: str) -> object:
        placements = [Placement("output", "/out", "a.pdf", source, "00")]
        return journal.plan_placements("t1", placements, expect={"attempts": 1, "state": "sanitising"},
                                       state="releasing", reason_message=source)  # fmt: skip

    results = race(
        holder, transfer_row("t1"), lambda: plan(first, "/node-1"), lambda: plan(second, "/node-2")
    )
    assert sorted(results, key=str) == [False, True], results
    (placement,) = holder.placements("t1")
    assert placement.source == holder.get("t1").reason_message  # the winner's plan, whole


def create_scratch(journal: Journal) -> None:
    with journal.transaction() as db:
        db.execute("CREATE TABLE scratch (transfer_id TEXT NOT NULL)")


def test_then_commits_its_own_rows_with_the_update(journals: Callable[[], Journal]) -> None:
    journal, reader = journals(), journals()
    add(journal, "t1", "staged")
    create_scratch(journal)
    mark = raw_mark(journal)
    seen: list[str] = []

    def enqueue(connection: Any) -> None:
        connection.execute(f"INSERT INTO scratch (transfer_id) VALUES ({mark})", ("t1",))
        seen.append(reader.rows("SELECT count(*) AS n FROM scratch")[0]["n"])  # not committed yet

    updated = journal.update("t1", expect={"state": "staged"}, then=enqueue, state="sanitising", attempts=0)
    assert updated is not None and updated.state == "sanitising"
    assert seen == [0]
    assert [row["transfer_id"] for row in reader.rows("SELECT transfer_id FROM scratch")] == ["t1"]
    assert reader.get("t1").state == "sanitising"


def test_then_that_raises_leaves_neither_the_update_nor_its_own_rows(journal: Journal) -> None:
    add(journal, "t1", "staged")
    create_scratch(journal)
    mark = raw_mark(journal)

    def enqueue_then_fail(connection: Any) -> None:
        connection.execute(f"INSERT INTO scratch (transfer_id) VALUES ({mark})", ("t1",))
        raise RuntimeError("the job queue refused")

    with pytest.raises(RuntimeError, match="job queue"):
        journal.update("t1", expect={"state": "staged"}, then=enqueue_then_fail, state="sanitising")
    assert journal.get("t1").state == "staged"
    assert journal.rows("SELECT count(*) AS n FROM scratch")[0]["n"] == 0
    # a then that is not run when the expectation is not met
    called: list[object] = []
    assert journal.update("t1", expect={"state": "held"}, then=called.append, state="sanitising") is None
    assert called == []
    # and the connection is usable again after the rollback
    assert journal.update("t1", then=called.append, state="sanitising").state == "sanitising"
    assert len(called) == 1


# ── four-eyes approval ─────────────────────────────────────────────────────────────────
def test_a_held_transfer_is_released_or_denied_once(journal: Journal) -> None:
    awaiting(journal, "t1")
    awaiting(journal, "t2")
    journal.decide_held("t1", "boss", AuditEntry("boss", "transfer.release", "transfer:t1"))
    released = journal.get("t1")
    assert (released.state, released.decided_by) == ("releasing", "boss")
    assert [p.key for p in journal.placements("t1")] == ["output"]
    deny = [Placement("reason", "/rejected", "t2.txt", "/spool/r", "bb")]
    journal.decide_held("t2", "boss", AuditEntry("boss", "transfer.deny", "transfer:t2"), deny,
                        reason_code="approval.denied")  # fmt: skip
    denied = journal.get("t2")
    assert (denied.state, denied.decided_by, denied.reason_code) == ("rejecting", "boss", "approval.denied")
    assert journal.placements("t2") == deny
    with pytest.raises(DecisionRefusedError) as refused:
        journal.decide_held("t1", "other", AuditEntry("other", "transfer.deny"), deny)
    assert refused.value.code == "not_awaiting"
    with pytest.raises(DecisionRefusedError):
        journal.decide_held("missing", "other", AuditEntry("other", "transfer.release"))
    assert journal.get("t1").decided_by == "boss" and [p.key for p in journal.placements("t1")] == ["output"]
    assert [e.action for e in journal.view.audit_entries()] == ["transfer.deny", "transfer.release"]


def test_two_approvers_on_two_nodes_decide_a_held_transfer_exactly_once(
    journals: Callable[[], Journal],
) -> None:
    holder, node1, node2 = journals(), journals(), journals()
    awaiting(holder, "t1")
    deny = [Placement("reason", "/rejected", "t1.txt", "/spool/r", "bb")]
    results = race(holder, transfer_row("t1"),
                   lambda: node1.decide_held("t1", "alice", AuditEntry("alice", "transfer.release", "transfer:t1")),
                   lambda: node2.decide_held("t1", "bob", AuditEntry("bob", "transfer.deny", "transfer:t1"), deny,
                                             reason_code="approval.denied"))  # fmt: skip
    refusals = [r for r in results if isinstance(r, DecisionRefusedError)]
    assert len(refusals) == 1 and refusals[0].code == "not_awaiting", results
    winner = "alice" if results[0] is None else "bob"
    decided = holder.get("t1")
    assert decided.decided_by == winner
    assert decided.state == ("releasing" if winner == "alice" else "rejecting")
    assert [p.key for p in holder.placements("t1")] == (["output"] if winner == "alice" else ["reason"])
    assert [e.actor for e in holder.view.audit_entries()] == [winner]


def test_release_requests_follow_the_four_eyes_rules(journal: Journal) -> None:
    add(journal, "t1", "released")
    now = time.time()
    request_id = journal.request_release("t1", "op", "needed for the audit", now + DAY,
                                         AuditEntry("op", "release.request", remote="10.0.0.5"))  # fmt: skip
    (entry,) = journal.view.audit_entries()
    assert (entry.target, entry.remote) == (f"request:{request_id}", "10.0.0.5")
    with pytest.raises(DecisionRefusedError) as refused:
        journal.request_release("t1", "op2", "again", now + DAY, AuditEntry("op2", "release.request"))
    assert refused.value.code == "already_requested"
    with pytest.raises(DecisionRefusedError) as refused:
        journal.decide_release(request_id, "op", approve=True, note="", now=now, directory="/approved",
                               audit=AuditEntry("op", "release.approve"))  # fmt: skip
    assert refused.value.code == "own_request"
    with pytest.raises(DecisionRefusedError) as refused:
        journal.decide_release(request_id, "boss", approve=True, note="", now=now + 2 * DAY,
                               directory="/approved", audit=AuditEntry("boss", "release.approve"))  # fmt: skip
    assert refused.value.code == "expired"
    assert journal.mark_purged("t1") is False  # a request is open: the original stays
    approved = journal.decide_release(request_id, "boss", approve=True, note="ok", now=now, directory="/approved",
                                      audit=AuditEntry("boss", "release.approve"))  # fmt: skip
    assert (approved.state, approved.decided_by, approved.note, approved.directory) == (
        "approved", "boss", "ok", "/approved")  # fmt: skip
    assert approved.decided == now
    with pytest.raises(DecisionRefusedError) as refused:
        journal.decide_release(request_id, "boss2", approve=False, note="", now=now, directory=None,
                               audit=AuditEntry("boss2", "release.deny"))  # fmt: skip
    assert refused.value.code == "not_pending"
    assert journal.mark_purged("t1") is False  # approved, not yet placed
    journal.release_placed(request_id, "/approved/t1.pdf", AuditEntry("system", "release.placed"))
    placed = journal.view.release_request(request_id)
    assert placed is not None and (placed.state, placed.final_path) == ("released", "/approved/t1.pdf")
    assert journal.mark_purged("t1") is True
    assert journal.mark_purged("t1") is False  # already marked
    with pytest.raises(DecisionRefusedError) as refused:
        journal.request_release("t1", "op", "too late", now + DAY, AuditEntry("op", "release.request"))
    assert refused.value.code == "no_original"
    with pytest.raises(DecisionRefusedError):
        journal.request_release("missing", "op", "?", now + DAY, AuditEntry("op", "release.request"))
    assert journal.view.release_request_count(("pending", "approved")) == 0
    assert journal.view.release_request_count() == 1


def test_requests_past_their_expiry_expire_once_and_are_audited(journal: Journal) -> None:
    for transfer_id in ("t1", "t2"):
        add(journal, transfer_id, "released")
    now = time.time()
    early = journal.request_release("t1", "op", "x", now + 10, AuditEntry("op", "release.request"))
    late = journal.request_release("t2", "op", "y", now + DAY, AuditEntry("op", "release.request"))
    assert journal.expire_requests(now) == []
    (expired,) = journal.expire_requests(now + 60)
    assert expired.id == early and expired.transfer_id == "t1"
    assert journal.expire_requests(now + 60) == []
    states = {r.id: r.state for r in journal.view.release_requests()}
    assert states == {early: "expired", late: "pending"}
    assert [r.id for r in journal.view.release_requests(states=("pending",), transfer_id="t2")] == [late]
    assert journal.view.release_requests(states=("pending",), transfer_id="t1") == []
    assert journal.view.audit_entries()[0].action == "release.expire"
    assert journal.view.audit_entries()[0].detail == "transfer t1"


def test_two_approvers_on_two_nodes_decide_a_request_exactly_once(journals: Callable[[], Journal]) -> None:
    holder, node1, node2 = journals(), journals(), journals()
    add(holder, "t1", "released")
    now = time.time()
    request_id = holder.request_release("t1", "op", "x", now + DAY, AuditEntry("op", "release.request"))

    def decide(journal: Journal, who: str, approve: bool) -> object:
        return journal.decide_release(request_id, who, approve=approve, note=who, now=now, directory="/a",
                                      audit=AuditEntry(who, "release.decide"))  # fmt: skip

    results = race(holder, lambda db: db.locking("SELECT id FROM release_requests WHERE id = ?", (request_id,)),
                   lambda: decide(node1, "alice", True), lambda: decide(node2, "bob", False))  # fmt: skip
    refusals = [r for r in results if isinstance(r, DecisionRefusedError)]
    assert len(refusals) == 1 and refusals[0].code == "not_pending", results
    decided = holder.view.release_request(request_id)
    assert decided is not None and decided.state == (
        "approved" if decided.decided_by == "alice" else "denied"
    )
    assert [e.actor for e in holder.view.audit_entries() if e.action == "release.decide"] == [
        decided.decided_by
    ]


# ── users and audit ────────────────────────────────────────────────────────────────────
def test_changes_to_the_users_file_are_audited_once(journals: Callable[[], Journal]) -> None:
    journal, other = journals(), journals()
    added = journal.sync_users({"alice": ("operator", False, 1.0), "bob": ("viewer", False, 2.0)})
    assert [(e.action, e.target, e.detail) for e in added] == [("user.add", "user:alice", "role=operator"),
                                                               ("user.add", "user:bob", "role=viewer")]  # fmt: skip
    assert other.sync_users({"alice": ("operator", False, 1.0), "bob": ("viewer", False, 2.0)}) == []
    changed = other.sync_users({"alice": ("approver", False, 3.0), "bob": ("viewer", True, 4.0)})
    assert [(e.action, e.detail) for e in changed] == [
        ("user.role", "operator -> approver"),
        ("user.disable", ""),
    ]
    changed = journal.sync_users({"alice": ("approver", False, 5.0), "bob": ("viewer", False, 6.0)})
    assert [e.action for e in changed] == ["user.passwd", "user.enable"]
    assert [e.action for e in journal.sync_users({})] == ["user.remove", "user.remove"]
    assert journal.view.audit_count() == 8
    newest = journal.view.audit_entries(limit=2)
    assert [(e.action, e.target) for e in newest] == [
        ("user.remove", "user:bob"),
        ("user.remove", "user:alice"),
    ]
    assert [e.target for e in journal.view.audit_entries(limit=1, offset=7)] == ["user:alice"]
    assert journal.view.audit_entries()[-1].time == 1.0  # the file's change time, kept


def test_two_nodes_reading_the_same_users_file_audit_each_change_once(
    journals: Callable[[], Journal],
) -> None:
    holder, node1, node2 = journals(), journals(), journals()
    users = {"alice": ("operator", False, 1.0), "bob": ("viewer", False, 2.0)}
    results = race(holder, lambda db: db.lock_table("known_users"), lambda: node1.sync_users(users),
                   lambda: node2.sync_users(users))  # fmt: skip
    assert sorted(len(r) for r in results) == [0, 2], results  # type: ignore[arg-type]
    assert holder.view.audit_count() == 2


# ── recovery ───────────────────────────────────────────────────────────────────────────
def test_a_journal_opened_again_finds_everything_and_migrates_nothing_twice(
    journals: Callable[[], Journal], target: Path | str
) -> None:
    journal = journals()
    awaiting(journal, "t1")
    add(journal, "t2", "released")
    request_id = journal.request_release(
        "t2", "op", "x", time.time() + DAY, AuditEntry("op", "release.request")
    )
    journal.close()
    reopened = journals()
    assert reopened.get("t1").state == "awaiting_approval"
    assert [p.key for p in reopened.placements("t1")] == ["output"]
    assert [t.id for t in reopened.unfinished()] == ["t1"]
    assert reopened.view.release_request(request_id) is not None
    assert [e.action for e in reopened.view.audit_entries()] == ["release.request"]
    if reopened.backend == "sqlite":
        assert reopened.rows("PRAGMA user_version")[0][0] == 2
        assert reopened.url is None and Path(target).is_file()
    else:
        assert [tuple(row) for row in reopened.rows("SELECT version FROM schema_version")] == [(2,)]
        assert reopened.url == target
    with pytest.raises(JournalError):  # a closed journal answers nothing
        journal.get("t1")


def test_rows_answer_by_column_name_and_by_position(journal: Journal) -> None:
    add(journal, "t1", "held")
    (row,) = journal.rows("SELECT id, state FROM transfers")
    assert (row["id"], row["state"], row[0], row[1]) == ("t1", "held", "t1", "held")
    assert dict(row) == {"id": "t1", "state": "held"}
    assert MailView(journal.view).available() and journal.view.has_table("transfers")
    assert not journal.view.has_table("no_such_table")


# ── the questions of the console, /status and `mukaika status` ─────────────────────────
@pytest.fixture
def japan_time() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "JST-9")
        time.tzset()
        yield
    time.tzset()


def test_search_filters_by_channel_state_type_local_day_and_name(journal: Journal, japan_time: None) -> None:
    rows = [("t-late", "docs", "released", "pdf", "100%_sure.pdf", 1709996399.0),  # 2024-03-09 23:59:59 JST
            ("t-midnight", "docs", "rejected", "docx", "100x_sure.docx", 1709996400.0),  # 2024-03-10 00:00 JST
            ("t-next", "mail", "released", "pdf", "100%a_SURE.pdf", 1710082799.0),  # 2024-03-10 23:59:59 JST
            ("t-after", "docs", "released", "png", "報告書_最終.png", 1710082800.0)]  # 2024-03-11 00:00 JST  # fmt: skip
    for transfer_id, channel, state, file_type, name, created in rows:
        add(journal, transfer_id, state, channel=channel, name=name, file_type=file_type)
        set_column(journal, "transfers", "created", created, transfer_id)
    journal.update("t-after", name_out="report-final.pdf")
    view = journal.view

    def found(**filters: str) -> list[str]:
        ids = [t.id for t in view.search(**filters)]  # type: ignore[arg-type]
        assert view.search_count(**filters) == len(ids)  # type: ignore[arg-type]
        return ids

    assert found() == ["t-after", "t-next", "t-midnight", "t-late"]  # newest first
    assert found(day="2024-03-10") == ["t-next", "t-midnight"]
    assert found(day="2024-03-09") == ["t-late"]
    assert found(day="2024-02-30") == [] and found(day="2024-03-12") == []
    assert found(name="%_") == ["t-late"]  # % and _ are the characters, not wildcards
    assert found(name="0%") == ["t-next", "t-late"]
    assert found(name="%a_") == ["t-next"]
    assert found(name="sure") == ["t-next", "t-midnight", "t-late"]  # any case
    assert found(name="_最") == ["t-after"]
    assert found(name="FINAL") == ["t-after"]  # the output's name counts too
    assert found(channel="docs", state="released") == ["t-after", "t-late"]
    assert found(file_type="pdf", day="2024-03-10") == ["t-next"]
    assert [t.id for t in view.search(limit=2, offset=1)] == ["t-next", "t-midnight"]
    assert view.transfer("t-next") is not None and view.transfer("missing") is None


def test_counts_errors_and_lists_of_the_status_pages(journal: Journal) -> None:
    now = time.time()
    for transfer_id, state, code in (("w", "rejected", "worker.timeout"), ("v", "rejected", "verify.type_changed"),
                                     ("c", "rejected", "sanitizer.crash"), ("p", "rejected", "policy.reject"),
                                     ("x", "rejected", "workerXtimeout"), ("r", "released", None),
                                     ("h", "held", "av.unavailable"), ("a", "awaiting_approval", None)):  # fmt: skip
        add(journal, transfer_id, state, reason_code=code)
    set_column(journal, "transfers", "finished", now - 2 * DAY, "w")
    set_column(journal, "transfers", "created", now - 600, "h")
    view = journal.view
    assert view.counts_by_state() == {"rejected": 5, "released": 1, "held": 1, "awaiting_approval": 1}
    assert view.counts_by_state(finished_since=now - DAY) == {"rejected": 4, "released": 1}
    assert [t.id for t in view.errors(10)] == ["c", "v", "w"]  # newest first, the file's faults left out
    assert [t.id for t in view.errors(1)] == ["c"]
    assert [t.id for t in view.recent(2)] == ["r", "x"]
    assert [t.id for t in view.recent_rejections(10)] == ["x", "p", "c", "v", "w"]
    assert [t.id for t in view.in_state("held")] == ["h"]
    oldest = view.oldest_unfinished()
    assert oldest is not None and oldest.id == "h"
    by_channel = view.unfinished_by_channel()
    assert set(by_channel) == {("docs", "held"), ("docs", "awaiting_approval")}
    assert by_channel[("docs", "held")] == (1, pytest.approx(now - 600, abs=1))
    view.ping()


def test_the_purge_deletes_only_rows_nothing_waits_on(journal: Journal) -> None:
    now = time.time()
    for transfer_id in ("gone1", "gone2", "kept-original", "kept-request", "kept-mail", "kept-recent"):
        add(journal, transfer_id, "sanitising")
        journal.plan_placements(transfer_id, [Placement("output", "/o", "a", "/s", "0")], state="released")
    add(journal, "kept-held", "held")
    journal.request_release("kept-request", "op", "x", now + DAY, AuditEntry("op", "release.request"))
    for transfer_id in ("gone1", "gone2", "kept-mail", "kept-recent"):
        assert journal.mark_purged(transfer_id)
    with journal.transaction() as db:
        # as if purged before the request: only the request keeps the row
        db.execute("UPDATE transfers SET original_purged = 1 WHERE id = 'kept-request'")
        db.execute("INSERT INTO mail (transfer_id, mail_from, recipients, subject, message_id, peer, received, state,"
                   " next_attempt) VALUES ('kept-mail', 'a@x', '[]', '', '', 'p', 1, 'deferred', 1)")  # fmt: skip
        db.execute("UPDATE transfers SET finished = ? WHERE id <> 'kept-recent' AND finished IS NOT NULL",
                   (now - 400 * DAY,))  # fmt: skip
    assert journal.purge_finished(now - 365 * DAY, limit=1) == 1
    assert journal.purge_finished(now - 365 * DAY, limit=500) == 1
    assert journal.purge_finished(now - 365 * DAY, limit=500) == 0
    left = sorted(row["id"] for row in journal.rows("SELECT id FROM transfers"))
    assert left == ["kept-held", "kept-mail", "kept-original", "kept-recent", "kept-request"]
    assert journal.placements("gone1") == [] and journal.placements("kept-mail") != []
    assert journal.view.audit_count() == 1  # the audit keeps its entries
    assert [t.id for t in journal.finished_before(now - 365 * DAY)] == ["kept-original"]


# ── read-only access (`mukaika status`) ────────────────────────────────────────────────
def test_a_read_only_view_reads_and_cannot_write(journal: Journal, target: Path | str) -> None:
    add(journal, "t1", "released")
    view = JournalView.open_read_only(target)
    try:
        assert view.counts_by_state() == {"released": 1}
        with pytest.raises(JournalError):
            view.rows("UPDATE transfers SET state = 'failed'")
        with pytest.raises(JournalError):
            view.rows("DELETE FROM transfers")
        assert view.counts_by_state() == {"released": 1}
    finally:
        view.close()
    assert journal.get("t1").state == "released"


def test_a_read_only_view_of_a_journal_not_created_yet_is_not_found(
    tmp_path: Path, request: pytest.FixtureRequest, target: Path | str
) -> None:
    if isinstance(target, Path):
        missing: Path | str = tmp_path / "nothing-here.sqlite"
    else:
        missing = request.getfixturevalue("postgres").new_database()  # a database without the tables
    with pytest.raises(FileNotFoundError):
        JournalView.open_read_only(missing)


def test_a_target_that_is_neither_a_path_nor_postgresql_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        open_journal("mysql://gateway@db/journal")


# ── PostgreSQL only ────────────────────────────────────────────────────────────────────
def test_nodes_starting_together_on_a_new_database_create_its_tables_once(postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    start = threading.Barrier(4)
    opened: list[Journal] = []
    failures: list[Exception] = []

    def start_node() -> None:
        start.wait()
        try:
            opened.append(open_journal(url))
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start_node) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert failures == [] and len(opened) == 4
        assert [tuple(row) for row in opened[0].rows("SELECT version FROM schema_version")] == [(2,)]
        add(opened[1], "t1")
        assert opened[2].get("t1").state == "admitted"
    finally:
        for journal in opened:
            journal.close()


# ── the server goes away and comes back ───────────────────────────────
def test_a_lost_server_is_an_error_of_its_own_and_the_next_call_reconnects() -> None:
    with running_cluster() as cluster:
        journal = open_journal(cluster.new_database())
        try:
            assert journal.backend == "postgresql"
            add(journal, "t1", "staged")
            create_scratch(journal)
            cluster.stop()
            with pytest.raises(JournalUnavailableError):
                journal.get("t1")  # the connection broke
            with pytest.raises(JournalUnavailableError):
                journal.update("t1", state="sanitising")  # no server to connect to
            cluster.start()
            assert journal.get("t1").state == "staged"  # connected again, no reopening

            def stop_mid_transaction(connection: Any) -> None:
                connection.execute("INSERT INTO scratch (transfer_id) VALUES ('t1')")
                cluster.stop()

            with pytest.raises(JournalUnavailableError):
                journal.update("t1", then=stop_mid_transaction, state="sanitising")
            cluster.start()
            assert journal.get("t1").state == "staged"  # nothing half-written
            assert journal.rows("SELECT count(*) AS n FROM scratch")[0]["n"] == 0
            assert journal.update("t1", state="sanitising").state == "sanitising"
            journal.view.ping()
        finally:
            journal.close()
