"""The web console over HTTP: login, sessions, CSRF, roles, four-eyes release of originals, held transfers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from gateway.console.users import change_user
from gateway.daemon import Gateway
from gateway.journal import AuditEntry, DecisionRefusedError, Journal, Transfer
from sanitizers.registry import default_registry
from tests.gateway.clamd_harness import EICAR, Clamd
from tests.gateway.console_env import PASSWORD, Browser, ConsoleEnv, run_console

Browsers = Callable[[], Awaitable[Browser]]


@pytest.fixture
def env(tmp_path: Path) -> ConsoleEnv:
    console_env = ConsoleEnv(tmp_path)
    console_env.add_users(viewer="viewer", op="operator", boss="approver", boss2="approver", root="admin")
    return console_env


def audit_actions(env: ConsoleEnv) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in reversed(env.journal.view.audit_entries())]


def test_login_sets_a_secure_httponly_strict_session_cookie_and_logout_ends_it(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        b = await browser()
        response, _ = await b.get("/")
        assert response.status == 303 and response.headers["Location"] == "/login"
        response = await b.login("op")
        assert response.status == 303
        cookie = next(h for h in response.headers.getall("Set-Cookie") if h.startswith("mukaika_session="))
        assert {"Secure", "HttpOnly", "SameSite=Strict"} <= {part.strip() for part in cookie.split(";")}
        response, body = await b.get("/")
        assert response.status == 200 and "op (担当者)" in body
        assert (
            response.headers["X-Frame-Options"] == "DENY"
            and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        )
        stale = dict(b.cookies)
        response, _ = await b.post("/logout")
        assert response.status == 303
        b.cookies = stale  # the old token must no longer work
        response, _ = await b.get("/")
        assert response.status == 303 and response.headers["Location"] == "/login"

    run_console(env, scenario)
    assert ("op", "login.ok") in audit_actions(env) and ("op", "logout") in audit_actions(env)


def test_wrong_password_unknown_user_and_disabled_user_are_refused_and_audited(env: ConsoleEnv) -> None:
    change_user(env.users_file, "viewer", disabled=True)

    async def scenario(browser: Browsers) -> None:
        b = await browser()
        assert (await b.login("op", "wrong password")).status == 401
        assert (await b.login("nobody")).status == 401
        assert (await b.login("viewer")).status == 401
        assert "mukaika_session" not in b.cookies

    run_console(env, scenario)
    assert audit_actions(env).count(("op", "login.failed")) == 1
    assert ("nobody", "login.failed") in audit_actions(env) and ("viewer", "login.failed") in audit_actions(
        env
    )


def test_login_without_the_form_token_is_refused(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        b = await browser()
        response, _ = await b.post("/login", {"user": "op", "password": PASSWORD}, csrf=False)
        assert response.status == 403 and "mukaika_session" not in b.cookies

    run_console(env, scenario)


def test_logins_are_rate_limited_per_user_and_address_within_the_window(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        b = await browser()
        for _ in range(5):
            assert (await b.login("op", "wrong password")).status == 401
        assert (await b.login("op")).status == 429  # even the right password, while blocked
        assert (await (await browser()).login("boss")).status == 303  # another user is not blocked
        env.clock.now += 15 * 60 + 1
        assert (await b.login("op")).status == 303

    run_console(env, scenario)
    assert ("op", "login.blocked") in audit_actions(env)


def test_a_burst_of_parallel_guesses_cannot_outrun_the_login_limit(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        b = await browser()
        await b.get("/login")
        guesses = [b.post("/login", {"user": "boss", "password": f"guess number {n}"}) for n in range(20)]
        statuses = sorted(response.status for response, _ in await asyncio.gather(*guesses))
        assert statuses == [401] * 5 + [429] * 15  # each password check counted before it runs

    run_console(env, scenario)


def test_a_session_ends_after_the_idle_timeout(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        b = await browser()
        await b.login("op")
        env.clock.now += 29 * 60
        assert (await b.get("/"))[0].status == 200  # activity restarts the idle clock
        env.clock.now += 29 * 60
        assert (await b.get("/"))[0].status == 200
        env.clock.now += 31 * 60
        assert (await b.get("/"))[0].status == 303

    run_console(env, scenario)


def test_every_post_needs_the_sessions_csrf_token(env: ConsoleEnv) -> None:
    transfer_id = env.finished_transfer()

    async def scenario(browser: Browsers) -> None:
        op, other = await browser(), await browser()
        await op.login("op")
        await other.login("boss")
        path = f"/transfers/{transfer_id}/original-request"
        for data, csrf in (({"reason": "macro needed"}, False), ({"reason": "x", "csrf_token": "forged"}, True),
                           ({"reason": "x", "csrf_token": other.csrf}, True)):  # fmt: skip
            response, body = await op.post(path, data, csrf=csrf)
            assert response.status == 403 and "確認トークン" in body
        assert (await op.post("/logout", csrf=False))[0].status == 403

    run_console(env, scenario)
    assert env.journal.view.release_requests() == []
    assert audit_actions(env).count(("op", "csrf.refused")) == 4


def test_original_released_after_another_approver_approves(env: ConsoleEnv) -> None:
    transfer_id = env.finished_transfer(b"the original, with its macro")

    async def scenario(browser: Browsers) -> None:
        op, boss = await browser(), await browser()
        await op.login("op")
        await op.get(f"/transfers/{transfer_id}")
        response, _ = await op.post(f"/transfers/{transfer_id}/original-request", {"reason": "   "})
        assert response.status == 409  # a reason is required
        response, _ = await op.post(f"/transfers/{transfer_id}/original-request", {"reason": "マクロが必要"})
        assert response.status == 303
        response, _ = await op.post(f"/transfers/{transfer_id}/original-request", {"reason": "again"})
        assert response.status == 409  # one open request per transfer
        (request,) = env.journal.view.release_requests()
        assert request.state == "pending" and request.requested_by == "op"
        assert not env.approved.exists() or list(env.approved.iterdir()) == []

        await boss.login("boss")
        _, page = await boss.get("/approvals")
        assert f'id="approve-{request.id}"' in page
        response, _ = await boss.post(f"/requests/{request.id}/approve")
        assert response.status == 303
        response, _ = await boss.post(f"/requests/{request.id}/approve")
        assert response.status == 409  # decided once only

    run_console(env, scenario)
    assert [p.name for p in env.approved.iterdir()] == ["memo.txt"]
    assert (env.approved / "memo.txt").read_bytes() == b"the original, with its macro"
    assert list(env.outbox.iterdir()) == [] if env.outbox.exists() else True
    (request,) = env.journal.view.release_requests()
    assert request.state == "released" and request.decided_by == "boss"
    assert request.final_path == str(env.approved / "memo.txt")
    actions = audit_actions(env)
    assert ("op", "release.request") in actions and ("boss", "release.approve") in actions
    assert ("system", "release.placed") in actions


def test_a_requester_cannot_decide_their_own_request(env: ConsoleEnv) -> None:
    env.add_users(chief="admin")
    transfer_id = env.finished_transfer()

    async def scenario(browser: Browsers) -> None:
        chief = await browser()
        await chief.login("chief")
        await chief.get(f"/transfers/{transfer_id}")
        assert (await chief.post(f"/transfers/{transfer_id}/original-request", {"reason": "layout"}))[
            0
        ].status == 303
        (request,) = env.journal.view.release_requests()
        response, body = await chief.post(f"/requests/{request.id}/approve")
        assert response.status == 403 and "自分の依頼" in body
        response, _ = await chief.post(f"/requests/{request.id}/deny", {"note": "no"})
        assert response.status == 403

    run_console(env, scenario)
    (request,) = env.journal.view.release_requests()
    assert request.state == "pending" and not list(env.approved.glob("*"))
    assert ("chief", "release.decision_refused") in audit_actions(env)


def test_roles_are_enforced_on_every_action(env: ConsoleEnv) -> None:
    transfer_id = env.finished_transfer()
    held_id = env.held_transfer()

    async def scenario(browser: Browsers) -> None:
        viewer, op = await browser(), await browser()
        await viewer.login("viewer")
        await op.login("op")
        assert (await viewer.get(f"/transfers/{transfer_id}"))[0].status == 200
        response, body = await viewer.post(f"/transfers/{transfer_id}/original-request", {"reason": "x"})
        assert response.status == 403 and "権限" in body
        assert (await op.post(f"/transfers/{transfer_id}/original-request", {"reason": "x"}))[0].status == 303
        (request,) = env.journal.view.release_requests()
        for who in (viewer, op):
            assert (await who.post(f"/requests/{request.id}/approve"))[0].status == 403
            assert (await who.post(f"/transfers/{held_id}/approve"))[0].status == 403
            assert (await who.get("/audit"))[0].status == 403
        _, page = await viewer.get("/approvals")
        assert f'id="approve-{request.id}"' not in page  # no buttons a viewer cannot use

    run_console(env, scenario)
    assert env.journal.view.release_requests()[0].state == "pending"
    assert env.journal.get(held_id).state == "awaiting_approval" and env.scheduled == []
    assert ("viewer", "access.denied") in audit_actions(env)


def test_requests_expire_and_cannot_be_approved_afterwards(env: ConsoleEnv) -> None:
    transfer_id = env.finished_transfer()
    env.releases.request(transfer_id, "op", "layout", "127.0.0.1")
    (request,) = env.journal.view.release_requests()
    assert request.expires - request.created == pytest.approx(72 * 3600, abs=5)
    with env.journal.transaction() as db:
        db.execute("UPDATE release_requests SET expires = 1 WHERE id = ?", (request.id,))

    async def scenario(browser: Browsers) -> None:
        boss = await browser()
        await boss.login("boss")
        response, body = await boss.post(f"/requests/{request.id}/approve")
        assert response.status == 409 and "処理されています" in body

    run_console(env, scenario)
    assert env.journal.view.release_requests()[0].state == "expired"
    assert ("system", "release.expire") in audit_actions(env)
    assert not list(env.approved.glob("*"))


def test_originals_found_infected_or_purged_are_never_requested(env: ConsoleEnv) -> None:
    infected = env.finished_transfer(b"X5O!P%@AP", reason_code="av.infected")
    purged = env.finished_transfer(b"old", name="old.txt")
    env.spool.original_path(purged).unlink()
    env.journal.update(purged, original_purged=1)

    async def scenario(browser: Browsers) -> None:
        op = await browser()
        await op.login("op")
        _, page = await op.get(f"/transfers/{infected}")
        assert 'id="request-form"' not in page
        assert (await op.post(f"/transfers/{infected}/original-request", {"reason": "x"}))[0].status == 409
        _, page = await op.get(f"/transfers/{purged}")
        assert "削除済み" in page and 'id="request-form"' not in page
        assert (await op.post(f"/transfers/{purged}/original-request", {"reason": "x"}))[0].status == 409

    run_console(env, scenario)
    assert env.journal.view.release_requests() == []


def test_a_held_transfer_is_released_by_an_approver_and_placed_once(env: ConsoleEnv) -> None:
    held_id = env.held_transfer(b"clean text")

    async def scenario(browser: Browsers) -> None:
        boss = await browser()
        await boss.login("boss")
        _, page = await boss.get("/approvals")
        assert f'id="held-{held_id}"' in page
        assert (await boss.post(f"/transfers/{held_id}/approve"))[0].status == 303
        assert (await boss.post(f"/transfers/{held_id}/approve"))[0].status == 409

    run_console(env, scenario)
    assert env.scheduled == [held_id]
    transfer = env.journal.get(held_id)
    assert transfer.state == "releasing" and transfer.decided_by == "boss"
    env.processor._finish(held_id)  # what the daemon's consumer does with a scheduled transfer
    env.processor._finish(held_id)
    assert [p.name for p in env.outbox.iterdir()] == ["report.txt"]
    assert (env.outbox / "report.txt").read_bytes() == b"clean text"
    assert env.journal.get(held_id).state == "released"
    assert ("boss", "transfer.release") in audit_actions(env)


def test_a_denied_held_transfer_gets_a_reason_file_and_never_reaches_the_outbox(env: ConsoleEnv) -> None:
    held_id = env.held_transfer()

    async def scenario(browser: Browsers) -> None:
        boss = await browser()
        await boss.login("boss")
        await boss.get("/approvals")
        assert (await boss.post(f"/transfers/{held_id}/deny", {"note": ""}))[0].status == 400
        assert (await boss.post(f"/transfers/{held_id}/deny", {"note": "個人情報を含む"}))[0].status == 303

    run_console(env, scenario)
    env.processor._finish(held_id)
    assert not env.outbox.exists() or list(env.outbox.iterdir()) == []
    reason = (env.rejected / "report.txt.reason.txt").read_text(encoding="utf-8-sig")
    assert "approval.denied" in reason and "個人情報を含む" in reason
    transfer = env.journal.get(held_id)
    assert transfer.state == "rejected" and transfer.reason_code == "approval.denied"


def test_transfer_list_filters_and_detail_page(env: ConsoleEnv) -> None:
    kept = env.finished_transfer(b"a", name="keikaku.txt")
    env.finished_transfer(b"b", name="setup.exe", reason_code="policy.reject")
    env.journal.update(kept, findings=json.dumps([{"construct": "txt.bom", "action": "removed", "count": 1}]))

    async def scenario(browser: Browsers) -> None:
        viewer = await browser()
        await viewer.login("viewer")
        _, page = await viewer.get("/transfers?state=rejected")
        assert "setup.exe" in page and "keikaku.txt" not in page
        _, page = await viewer.get("/transfers?name=KEIKAKU&channel=test&type=txt")
        assert "keikaku.txt" in page and "setup.exe" not in page
        _, page = await viewer.get("/transfers?date=1999-01-01")
        assert 'id="no-transfers"' in page
        _, page = await viewer.get(f"/transfers/{kept}")
        assert "txt.bom" in page and env.journal.get(kept).sha256_in in page  # type: ignore[operator]
        _, page = await viewer.get("/")
        assert "setup.exe" in page and 'id="count-rejected">1<' in page
        _, page = await viewer.get("/transfers/<script>")
        assert "<script>" not in page

    run_console(env, scenario)


def test_japanese_by_default_with_an_english_switch_kept_in_a_cookie(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        b = await browser()
        _, page = await b.get("/login")
        assert "ログイン" in page and 'lang="ja"' in page
        _, page = await b.get("/login?lang=en")
        assert "Log in" in page and b.cookies["mukaika_lang"] == "en"
        await b.login("op")
        _, page = await b.get("/")
        assert "Dashboard" in page and "概要" not in page

    run_console(env, scenario)


def test_the_audit_log_is_for_admins_and_records_user_file_changes(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        root = await browser()
        await root.login("root")
        change_user(env.users_file, "op", disabled=True)
        response, page = await root.get("/audit")
        assert response.status == 200 and "user.disable" in page and "login.ok" in page

    run_console(env, scenario)
    assert ("users-file", "user.add") in audit_actions(env)
    assert ("users-file", "user.disable") in audit_actions(env)


def test_a_disabled_user_loses_their_session_at_once(env: ConsoleEnv) -> None:
    async def scenario(browser: Browsers) -> None:
        op = await browser()
        await op.login("op")
        assert (await op.get("/"))[0].status == 200
        change_user(env.users_file, "op", disabled=True)
        assert (await op.get("/"))[0].status == 303

    run_console(env, scenario)


def test_a_password_change_ends_the_session_at_its_next_request(env: ConsoleEnv) -> None:
    transfer_id = env.finished_transfer()

    async def scenario(browser: Browsers) -> None:
        op = await browser()
        await op.login("op")
        change_user(env.users_file, "op", password="a new password, set by root")
        response, _ = await op.post(
            f"/transfers/{transfer_id}/original-request", {"reason": "stolen session"}
        )
        assert response.status == 403

    run_console(env, scenario)
    assert env.journal.view.release_requests() == []


def test_a_request_made_while_the_retention_purge_runs_keeps_its_original(
    env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfer_id = env.finished_transfer()
    env.journal.update(transfer_id, finished=1.0)  # long past retention_days
    gateway = Gateway(env.config, None, default_registry())
    gateway.journal = env.journal
    due = env.journal.finished_before

    def due_then_requested(cutoff: float) -> Iterator[Transfer]:
        listed = list(due(cutoff))
        # the console's thread, between the purge's query and its unlink
        env.releases.request(transfer_id, "op", "needed", "127.0.0.1")
        return iter(listed)

    monkeypatch.setattr(env.journal, "finished_before", due_then_requested)
    gateway.purge_originals()
    (request,) = env.journal.view.release_requests()
    assert request.state == "pending"
    assert env.spool.original_path(transfer_id).exists() and not env.journal.get(transfer_id).original_purged


def test_an_original_purged_meanwhile_cannot_be_requested(env: ConsoleEnv) -> None:
    transfer_id = env.finished_transfer()
    env.journal.update(transfer_id, original_purged=1)  # the purge committed after the request's own check
    with pytest.raises(DecisionRefusedError, match="no_original"):
        env.journal.request_release(transfer_id, "op", "why", 2e9, AuditEntry("op", "release.request"))


@pytest.mark.slow
def test_an_original_never_scanned_is_scanned_before_its_release(tmp_path: Path) -> None:
    """A rejected file's original was not given to clamd (nothing of it was to be released)."""
    with Clamd(tmp_path / "clamd") as clamd:
        env = ConsoleEnv(tmp_path / "gw", clamav=str(clamd.socket))
        env.add_users(op="operator", boss="approver")
        transfer_id = env.finished_transfer(b"MZ" + EICAR, name="setup.exe", reason_code="policy.reject")
        env.releases.request(transfer_id, "op", "the installer is needed", "127.0.0.1")
        (request,) = env.journal.view.release_requests()

        async def scenario(browser: Browsers) -> None:
            boss = await browser()
            await boss.login("boss")
            response, body = await boss.post(f"/requests/{request.id}/approve")
            assert response.status == 409 and "マルウェア" in body

        run_console(env, scenario)
    assert env.journal.view.release_requests()[0].state == "pending"
    assert not env.approved.exists() or list(env.approved.iterdir()) == []
    assert list(env.spool.work.iterdir()) == []  # the plaintext scanned is not left in the spool


def test_an_old_journal_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE transfers (id TEXT PRIMARY KEY, channel TEXT NOT NULL, rel_dir TEXT NOT NULL,"
        " inbox_path TEXT NOT NULL, name_in TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,"
        " created REAL NOT NULL, updated REAL NOT NULL, finished REAL, size_in INTEGER, sha256_in TEXT,"
        " file_type TEXT, method TEXT, findings TEXT, reason_code TEXT, reason_message TEXT, name_out TEXT,"
        " size_out INTEGER, sha256_out TEXT, path_out TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
        " original_purged INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO transfers (id, channel, rel_dir, inbox_path, name_in, name, state, created, updated)"
        " VALUES ('old', 'c', '[]', '/in/a', 'a', 'a', 'released', 1, 1);"
    )
    db.close()
    journal = Journal(path)
    assert journal.get("old").decided_by is None
    request_id = journal.request_release("old", "op", "why", 2e9, AuditEntry("op", "release.request"))
    assert journal.view.release_request(request_id) is not None
    journal.close()
    journal = Journal(path)  # opening again applies nothing twice
    # the console's tables, then the mail relay's
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    journal.close()
