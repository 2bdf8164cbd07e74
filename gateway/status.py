"""`mukaika status`: what the journal says, read without write access (the daemon may be running)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.cluster.overview import ClusterOverview
from gateway.dburl import is_postgres_url, redact_url
from gateway.journal import FINAL_STATES, JournalView, Transfer
from gateway.smtp.queue import MailView, QueuedMail

LAST_ERRORS = 10
OPEN_MAILS = 10
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class StatusReport:
    journal: Path | str  # the SQLite file, or the PostgreSQL URL without its password
    unfinished: dict[str, int]  # transfers waiting or in progress, by state
    verdicts_all: dict[str, int]
    verdicts_last_24h: dict[str, int]
    oldest_unfinished: Transfer | None
    oldest_age_seconds: float | None
    last_errors: list[Transfer]
    confinement: str = ""  # how workers are confined under this config on this host
    mail: dict[str, int] = field(default_factory=dict)  # the relay's mails by delivery state
    open_mails: list[QueuedMail] = field(default_factory=list)  # the oldest not yet delivered
    cluster: ClusterOverview | None = None  # several nodes: who is connected, who serves which channel
    channels: tuple[str, ...] = ()  # the channels the config names (to show those nobody serves)

    def as_json(self) -> str:
        oldest = None
        if self.oldest_unfinished is not None:
            oldest = self.oldest_unfinished.summary() | {"age_seconds": self.oldest_age_seconds}
        report = {
            "journal": str(self.journal),
            "unfinished": self.unfinished,
            "verdicts": {"all": self.verdicts_all, "last_24h": self.verdicts_last_24h},
            "oldest_unfinished": oldest,
            "last_errors": [t.summary() for t in self.last_errors],
            "confinement": self.confinement,
            "mail": {"states": self.mail, "open": [m.summary() for m in self.open_mails]},
            "cluster": self.cluster.as_dict() if self.cluster is not None else None,
        }
        return json.dumps(report, ensure_ascii=False)

    def as_text(self) -> str:
        oldest = self.oldest_unfinished
        lines = [
            f"journal: {self.journal}",
            f"unfinished: {_counts(self.unfinished) or 'none'}",
            "oldest unfinished: "
            + (
                "none"
                if oldest is None
                else f"{self.oldest_age_seconds:.0f} s ({oldest.id}, {oldest.name}, {oldest.state})"
            ),
            f"verdicts (all time): {_counts(self.verdicts_all)}",
            f"verdicts (last 24 h): {_counts(self.verdicts_last_24h)}",
            f"confinement: {self.confinement}",
            "last errors:" + ("" if self.last_errors else " none"),
        ]
        for t in self.last_errors:
            finished = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t.finished or t.updated))
            lines.append(f"  {finished}  {t.id}  {t.channel}/{t.name}  {t.reason_code}: {t.reason_message}")
        if self.mail:
            lines.append(f"mail: {_counts(self.mail)}")
            lines.append("mail queue:" + ("" if self.open_mails else " empty"))
        for m in self.open_mails:
            received = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.received))
            waiting = ", ".join(m.open_recipients())
            lines.append(f"  {received}  {m.transfer_id}  {m.state} ×{m.attempts}  <{m.mail_from}> -> {waiting}"
                         + (f"  ({m.last_error})" if m.last_error else ""))  # fmt: skip
        if self.cluster is not None:
            lines += self.cluster.lines(self.channels)
        return "\n".join(lines)


def journal_status(journal: Path | str, now: float | None = None) -> StatusReport:
    """Read the report from the journal (a path or a PostgreSQL URL); FileNotFoundError if it
    does not exist yet."""
    now = time.time() if now is None else now
    view = JournalView.open_read_only(journal)
    try:
        all_states = view.counts_by_state()
        last_day = view.counts_by_state(finished_since=now - DAY_SECONDS)
        errors = view.errors(LAST_ERRORS)
        oldest = view.oldest_unfinished()
        mail_view = MailView(view)
        mail, open_mails = mail_view.counts(), mail_view.open_mails(OPEN_MAILS)
    finally:
        view.close()
    return StatusReport(
        journal=redact_url(str(journal)) if is_postgres_url(journal) else Path(journal),
        unfinished={s: n for s, n in sorted(all_states.items()) if s not in FINAL_STATES},
        verdicts_all=_finals(all_states),
        verdicts_last_24h=_finals(last_day),
        oldest_unfinished=oldest,
        oldest_age_seconds=None if oldest is None else round(now - oldest.created, 1),
        last_errors=errors,
        mail=mail,
        open_mails=open_mails,
    )


def _finals(counts: dict[str, int]) -> dict[str, int]:
    return {state: counts.get(state, 0) for state in FINAL_STATES}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in counts.items())
