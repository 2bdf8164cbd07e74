"""The console's routes, access checks and lifecycle (started by the daemon when enabled).

Access: every page but /login needs a live session of a user who is still enabled in the
users file; every POST carries the session's CSRF token; each action names the least role
it needs (viewer < operator < approver < admin) and a refusal is audited like a success.
File and journal work runs in threads so that the event loop keeps serving the daemon.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from gateway.audit import log_audit, record
from gateway.config import MAIL_CHANNEL, Config, ConsoleSettings
from gateway.console.auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Session,
    Sessions,
    new_token,
    tokens_match,
)
from gateway.console.i18n import LANG_COOKIE, LANGUAGES, MESSAGES, translate
from gateway.console.present import (
    Page,
    action_text,
    construct_text,
    human_size,
    location_text,
    original_risk,
    place_of,
)
from gateway.console.users import User, UserStore, check_password
from gateway.journal import STATES, AuditEntry, DecisionRefusedError, Journal
from gateway.originals import OriginalReleases
from gateway.reasons import staff_reason
from gateway.smtp.queue import MailView
from gateway.transfers import TransferProcessor
from gateway.vault import VaultError
from sanitizers.types import TYPES

log = structlog.get_logger("mukaika.console")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LANG = web.RequestKey("lang", str)
SET_LANG = web.RequestKey("set_lang", str)
SESSION = web.RequestKey("session", Session)
USER = web.RequestKey("user", User)
FORM: web.RequestKey[MultiDictProxy[str | bytes | bytearray | FileField]] = web.RequestKey("form")

LOGIN_FORM_SECONDS = 900
PUBLIC_PATHS = ("/login", "/favicon.ico")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_NOTICES = {"request.created", "held.released", "held.denied", "decision.approved", "decision.denied"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ConsoleBackend(Protocol):
    """What the console uses of the running gateway (``gateway.daemon.Gateway``)."""

    @property
    def config(self) -> Config: ...
    @property
    def journal(self) -> Journal | None: ...
    @property
    def processor(self) -> TransferProcessor | None: ...
    @property
    def releases(self) -> OriginalReleases | None: ...
    def queue_numbers(self) -> dict[str, int]: ...
    def schedule(self, transfer_id: str) -> None: ...


def requires(role: str) -> Callable[[Callable[[Console, web.Request], Awaitable[web.StreamResponse]]],
                                    Callable[[Console, web.Request], Awaitable[web.StreamResponse]]]:  # fmt: skip
    """Refuse (403, audited) users below ``role``."""

    def wrap(
        handler: Callable[[Console, web.Request], Awaitable[web.StreamResponse]],
    ) -> Callable[[Console, web.Request], Awaitable[web.StreamResponse]]:
        async def checked(self: Console, request: web.Request) -> web.StreamResponse:
            user: User = request[USER]
            if not user.may(role):
                await self.audit(request, "access.denied", request.path, f"needs {role}, has {user.role}")
                return self.error(request, "error.forbidden", 403)
            return await handler(self, request)

        return checked

    return wrap


class Console:
    def __init__(self, backend: ConsoleBackend, settings: ConsoleSettings,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.backend = backend
        self.settings = settings
        self.sessions = Sessions(settings.session_idle_minutes * 60, clock)
        self.limiter = LoginLimiter(settings.login_max_failures, settings.login_window_minutes * 60, clock)
        self.users = UserStore(settings.users_file, self._users_changed)

    # ── application ────────────────────────────────────────────────────────────────────
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate], client_max_size=64 * 1024)
        env = aiohttp_jinja2.setup(
            app, loader=jinja2.PackageLoader("gateway.console", "templates"),
            autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
        )  # fmt: skip
        env.filters["when"] = _when
        app.on_response_prepare.append(_secure_headers)
        routes = [
            web.get("/login", self.login_form), web.post("/login", self.login), web.post("/logout", self.logout),
            web.get("/", self.dashboard), web.get("/transfers", self.transfers),
            web.get("/transfers/{id}", self.transfer), web.post("/transfers/{id}/original-request", self.request_original),
            web.post("/transfers/{id}/approve", self.approve_held), web.post("/transfers/{id}/deny", self.deny_held),
            web.get("/approvals", self.approvals), web.post("/requests/{id}/approve", self.approve_request),
            web.post("/requests/{id}/deny", self.deny_request), web.get("/audit", self.audit_log),
            web.get("/static/console.css", self.stylesheet), web.get("/favicon.ico", self.no_icon),
        ]  # fmt: skip
        app.add_routes(routes)
        return app

    def render(
        self, request: web.Request, template: str, context: dict[str, Any], status: int = 200
    ) -> web.Response:
        return aiohttp_jinja2.render_template(
            template, request, {**self._context(request), **context}, status=status
        )

    def _context(self, request: web.Request) -> dict[str, Any]:
        lang = request.get(LANG, "ja")
        session = request.get(SESSION)
        return {
            "t": lambda key: translate(key, lang),
            "reason": staff_reason,
            "construct": lambda construct: construct_text(construct, lang),
            "action": lambda action: action_text(action, lang),
            "location": location_text,
            "size": lambda size: human_size(size, lang),
            "place": lambda path, channel: place_of(
                path, channel, self.backend.config, self._releases().spool
            ),
            "risk": original_risk,
            "audit_action": lambda action: (
                translate(f"audit_action.{action}", lang) if f"audit_action.{action}" in MESSAGES else action
            ),
            "lang": lang,
            "other_lang": "en" if lang == "ja" else "ja",
            "user": request.get(USER),
            "csrf": session.csrf if session is not None else "",
            "csrf_field": CSRF_FIELD,
            "notice": request.query.get("msg") if request.query.get("msg") in _NOTICES else None,
        }

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[LANG] = _language(request)
        if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
            return _with_lang(request, await handler(request))
        token = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(token)
        user = await asyncio.to_thread(self.users.get, session.user) if session is not None else None
        # re-reading a changed users file ends the sessions of users changed there, this one too
        if session is None or user is None or user.disabled or self.sessions.get(token) is not session:
            self.sessions.close(token)
            if request.method != "GET":
                return self.error(request, "error.forbidden", 403)
            raise web.HTTPSeeOther("/login")
        request[SESSION] = session
        request[USER] = user
        if request.method == "POST":
            form = await request.post()
            given = form.get(CSRF_FIELD)
            if not tokens_match(session.csrf, given if isinstance(given, str) else None):
                await self.audit(request, "csrf.refused", request.path)
                return self.error(request, "error.csrf", 403)
            request[FORM] = form
        return _with_lang(request, await handler(request))

    # ── login ──────────────────────────────────────────────────────────────────────────
    async def login_form(self, request: web.Request) -> web.StreamResponse:
        if self.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
            raise web.HTTPSeeOther("/")
        return self._login_page(request, None, 200)

    def _login_page(
        self, request: web.Request, problem: str | None, status: int, *, fresh: bool = False
    ) -> web.StreamResponse:
        # keep the browser's token: a second tab or a stray request must not void the first form
        token = request.cookies.get(LOGIN_COOKIE, "")
        if fresh or not _TOKEN.match(token):
            token = new_token()
        response = self.render(request, "login.html",
                                                  {"login_token": token, "problem": problem}, status=status)  # fmt: skip
        response.set_cookie(LOGIN_COOKIE, token, max_age=LOGIN_FORM_SECONDS, path="/login", secure=True,
                            httponly=True, samesite="Strict")  # fmt: skip
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given, name, password = form.get(CSRF_FIELD), form.get("user", ""), form.get("password", "")
        remote = self.remote(request)
        if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), given if isinstance(given, str) else None):
            await self.audit(request, "csrf.refused", "/login", actor="-")
            return self._login_page(request, "login.expired", 403, fresh=True)
        if not isinstance(name, str) or not isinstance(password, str):
            return self._login_page(request, "login.failed", 401)
        name = name.strip()[:64]
        if self.limiter.blocked(name, remote):
            await self.audit(request, "login.blocked", f"user:{name}", actor=name or "-")
            return self._login_page(request, "login.blocked", 429)
        # counted as failed before the slow check: parallel guesses must not all pass `blocked` first
        self.limiter.failed(name, remote)
        user = await asyncio.to_thread(self.users.get, name)
        if not await asyncio.to_thread(check_password, user, password):
            await self.audit(request, "login.failed", f"user:{name}", actor=name or "-")
            return self._login_page(request, "login.failed", 401)
        self.limiter.succeeded(name, remote)
        self.sessions.close(request.cookies.get(SESSION_COOKIE))  # a fresh token at every login
        token, _ = self.sessions.open(name)
        await self.audit(request, "login.ok", f"user:{name}", actor=name)
        response = _redirect("/")
        response.set_cookie(SESSION_COOKIE, token, path="/", secure=True, httponly=True, samesite="Strict")
        response.del_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.close(request.cookies.get(SESSION_COOKIE))
        await self.audit(request, "logout", f"user:{request[USER].name}")
        response = _redirect("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # ── pages ──────────────────────────────────────────────────────────────────────────
    @requires("viewer")
    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        view = self._journal().view

        def read() -> dict[str, Any]:
            states = view.counts_by_state()
            return {
                "states": states,
                "last24h": view.counts_by_state(finished_since=time.time() - 86400),
                "awaiting": states.get("awaiting_approval", 0),
                "pending": view.release_request_count(("pending",)),
                "rejections": view.recent_rejections(10),
            }

        context = await asyncio.to_thread(read)
        context["queue"] = self.backend.queue_numbers()
        context["all_states"] = STATES
        return self.render(request, "dashboard.html", context)

    @requires("viewer")
    async def transfers(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        filters = {
            "channel": query.get("channel", "") if query.get("channel") in self._channel_names() else "",
            "state": query.get("state", "") if query.get("state") in STATES else "",
            "file_type": query.get("type", "") if query.get("type") in TYPES else "",
            "day": query.get("date", "") if _DAY.match(query.get("date", "")) else "",
            "name": query.get("name", "")[:200],
        }
        view = self._journal().view

        def read() -> tuple[list[Any], dict[str, Any], Page]:
            page = Page.asked(query.get("page", ""), view.search_count(**filters))
            rows = view.search(**filters, limit=page.size, offset=page.offset)
            return rows, MailView(view).mails([r.id for r in rows if r.channel == MAIL_CHANNEL]), page

        rows, mails, page = await asyncio.to_thread(read)
        shown = {"channel": filters["channel"], "state": filters["state"], "type": filters["file_type"],
                 "date": filters["day"], "name": filters["name"]}  # fmt: skip
        context = {"rows": rows, "mails": mails, "filters": filters, "channels": self._channel_names(),
                   "states": STATES, "types": sorted(TYPES), "page": page,
                   "page_query": urlencode({k: v for k, v in shown.items() if v})}  # fmt: skip
        return self.render(request, "transfers.html", context)

    @requires("viewer")
    async def transfer(self, request: web.Request) -> web.StreamResponse:
        transfer_id = request.match_info["id"]
        view = self._journal().view
        transfer = await asyncio.to_thread(view.transfer, transfer_id)
        if transfer is None:
            return self.error(request, "error.not_found", 404)
        requests = await asyncio.to_thread(lambda: view.release_requests(transfer_id=transfer_id))
        mail = (
            await asyncio.to_thread(MailView(view).mail, transfer_id)
            if transfer.channel == MAIL_CHANNEL
            else None
        )
        spool = self._releases().spool
        kept = await asyncio.to_thread(spool.original_path(transfer_id).exists)
        context = {
            "tr": transfer,
            "mail": mail,
            "findings": json.loads(transfer.findings) if transfer.findings else [],
            "requests": requests,
            "original": "kept" if kept else ("gone" if transfer.original_purged else "none"),
            "open_request": any(r.state in ("pending", "approved") for r in requests),
            "duration": round((transfer.finished or transfer.updated) - transfer.created, 3),
        }
        return self.render(request, "transfer.html", context)

    @requires("viewer")
    async def approvals(self, request: web.Request) -> web.StreamResponse:
        releases = self._releases()
        await asyncio.to_thread(releases.expire)
        view = self._journal().view

        def read() -> dict[str, Any]:
            decided = ("approved", "released", "denied", "expired")
            pending = view.release_requests(states=("pending",))
            history = view.release_requests(states=decided, limit=50)
            names = {r.transfer_id: view.transfer(r.transfer_id) for r in [*pending, *history]}
            return {"pending": pending, "history": history, "transfers": names,
                    "held": view.in_state("awaiting_approval"),
                    "totals": {"pending": view.release_request_count(("pending",)),
                               "history": view.release_request_count(decided),
                               "held": view.counts_by_state().get("awaiting_approval", 0)}}  # fmt: skip

        return self.render(request, "approvals.html", await asyncio.to_thread(read))

    @requires("admin")
    async def audit_log(self, request: web.Request) -> web.StreamResponse:
        view = self._journal().view

        def read() -> dict[str, Any]:
            page = Page.asked(request.query.get("page", ""), view.audit_count())
            return {"entries": view.audit_entries(page.size, page.offset), "page": page, "page_query": ""}

        return self.render(request, "audit.html", await asyncio.to_thread(read))

    async def no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=404)

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        css = (Path(__file__).parent / "static" / "console.css").read_bytes()
        return web.Response(body=css, content_type="text/css", charset="utf-8")

    # ── actions ────────────────────────────────────────────────────────────────────────
    @requires("operator")
    async def request_original(self, request: web.Request) -> web.StreamResponse:
        transfer_id = request.match_info["id"]
        reason = _field(request, "reason")
        user, remote = request[USER].name, self.remote(request)
        try:
            await asyncio.to_thread(self._releases().request, transfer_id, user, reason, remote)
        except DecisionRefusedError as exc:
            await self.audit(request, "release.request_refused", f"transfer:{transfer_id}", exc.code)
            return self.error(request, f"refused.{exc.code}", 409)
        raise web.HTTPSeeOther(f"/transfers/{transfer_id}?msg=request.created")

    @requires("approver")
    async def approve_request(self, request: web.Request) -> web.StreamResponse:
        return await self._decide_request(request, approve=True)

    @requires("approver")
    async def deny_request(self, request: web.Request) -> web.StreamResponse:
        return await self._decide_request(request, approve=False)

    async def _decide_request(self, request: web.Request, *, approve: bool) -> web.StreamResponse:
        try:
            request_id = int(request.match_info["id"])
        except ValueError:
            return self.error(request, "error.not_found", 404)
        note = _field(request, "note")
        if not approve and not note:
            return self.error(request, "refused.note_required", 400)
        if approve:
            unconfirmed = await asyncio.to_thread(
                self._unconfirmed_risk, request_id, _field(request, "confirm")
            )
            if unconfirmed is not None:
                return self.render(request, "confirm.html", unconfirmed)
        user, remote = request[USER].name, self.remote(request)
        try:
            await asyncio.to_thread(self._releases().decide, request_id, user, approve=approve, note=note,
                                    remote=remote)  # fmt: skip
        except DecisionRefusedError as exc:
            await self.audit(request, "release.decision_refused", f"request:{request_id}", exc.code)
            return self.error(request, f"refused.{exc.code}", 403 if exc.code == "own_request" else 409)
        except (OSError, VaultError) as exc:
            log.error("approved original not placed yet; will retry", request_id=request_id, error=str(exc))
            return self.error(request, "refused.placement", 503)
        raise web.HTTPSeeOther(f"/approvals?msg=decision.{'approved' if approve else 'denied'}")

    @requires("approver")
    async def approve_held(self, request: web.Request) -> web.StreamResponse:
        return await self._decide_held(request, approve=True)

    @requires("approver")
    async def deny_held(self, request: web.Request) -> web.StreamResponse:
        return await self._decide_held(request, approve=False)

    async def _decide_held(self, request: web.Request, *, approve: bool) -> web.StreamResponse:
        transfer_id = request.match_info["id"]
        note = _field(request, "note")
        if not approve and not note:
            return self.error(request, "refused.note_required", 400)
        processor = self.backend.processor
        assert processor is not None
        user = request[USER].name
        entry = AuditEntry(user, "transfer.release" if approve else "transfer.deny", f"transfer:{transfer_id}",
                           self.remote(request), note)  # fmt: skip
        try:
            if approve:
                await asyncio.to_thread(processor.release_held, transfer_id, user, entry)
            else:
                await asyncio.to_thread(processor.deny_held, transfer_id, user, note, entry)
        except (DecisionRefusedError, KeyError) as exc:
            code = exc.code if isinstance(exc, DecisionRefusedError) else "no_transfer"
            await self.audit(request, "transfer.decision_refused", f"transfer:{transfer_id}", code)
            return self.error(request, f"refused.{code}", 409)
        log_audit(entry)
        self.backend.schedule(transfer_id)  # the daemon places it, as it places every transfer
        raise web.HTTPSeeOther(f"/approvals?msg=held.{'released' if approve else 'denied'}")

    def _unconfirmed_risk(self, request_id: int, confirmed: str) -> dict[str, Any] | None:
        """What the confirmation page names about a risky original, unless its type was confirmed.

        One click must not hand back an executable, a macro document or an archive: the
        approval goes through only with the type the approver was shown.
        """
        view = self._journal().view
        pending = view.release_request(request_id)
        if pending is None or pending.state != "pending":
            return None  # refused by the decision itself, with its own message
        transfer = view.transfer(pending.transfer_id)
        risk = original_risk(transfer) if transfer is not None else None
        if risk is None or confirmed == risk.token:
            return None
        description = TYPES[risk.file_type].description if risk.file_type else ""
        return {"pending": pending, "tr": transfer, "risk_of": risk, "description": description}

    # ── helpers ────────────────────────────────────────────────────────────────────────
    def error(self, request: web.Request, key: str, status: int) -> web.StreamResponse:
        message = key if key in MESSAGES else "error.not_found"
        return self.render(request, "error.html", {"message": message}, status=status)

    def remote(self, request: web.Request) -> str:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if self.settings.trust_forwarded_for and forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()[:64]
        return request.remote or "unix"

    async def audit(self, request: web.Request, action: str, target: str, detail: str = "", *,
                    actor: str | None = None) -> None:  # fmt: skip
        user = request.get(USER)
        entry = AuditEntry(actor or (user.name if user is not None else "-"), action, target, self.remote(request),
                           detail)  # fmt: skip
        await asyncio.to_thread(record, self._journal(), entry)

    def _users_changed(self, users: dict[str, User]) -> None:
        """Audit what `mukaika user` changed, and end the sessions of users changed or removed."""
        journal = self.backend.journal
        if journal is None:
            return
        entries = journal.sync_users({u.name: (u.role, u.disabled, u.changed) for u in users.values()})
        for entry in entries:
            log_audit(entry)
            self.sessions.close_user(entry.target.removeprefix("user:"))

    def _journal(self) -> Journal:
        journal = self.backend.journal
        assert journal is not None
        return journal

    def _releases(self) -> OriginalReleases:
        releases = self.backend.releases
        assert releases is not None
        return releases

    def _channel_names(self) -> list[str]:
        config = self.backend.config
        return [c.name for c in config.channels] + ([MAIL_CHANNEL] if config.smtp.enabled else [])


def _language(request: web.Request) -> str:
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        request[SET_LANG] = asked
        return asked
    return request.cookies.get(LANG_COOKIE) if request.cookies.get(LANG_COOKIE) in LANGUAGES else "ja"  # type: ignore[return-value]


def _with_lang(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if SET_LANG in request:
        response.set_cookie(LANG_COOKIE, request[SET_LANG], path="/", secure=True, httponly=True,
                            samesite="Strict", max_age=365 * 86400)  # fmt: skip
    return response


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)


def _redirect(location: str) -> web.Response:
    """A 303 to return (not raise) when the response also sets cookies."""
    return web.Response(status=303, headers={"Location": location})


def _field(request: web.Request, name: str) -> str:
    value = request[FORM].get(name, "")
    return value.strip()[:2000] if isinstance(value, str) else ""


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
