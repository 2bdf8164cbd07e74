"""One transfer, from inbox entry to a final journal state, resumable at every step.

    admit:    lstat → refuse non-regular entries and hard links, or stage into the spool
    sanitise: run the channel's rule in an isolated worker
    scan:     with [clamav], clamd scans the output and the original before a release is planned
    hold:     on a channel with ``approval = "required"``, the planned release waits in
              ``awaiting_approval`` until an approver releases or denies it in the console
    place:    output → outbox, or reason file (and, if configured, the original) → rejected/
    finish:   final state committed, original retained, scratch removed, one log line

Every step first commits the journal state that allows it, so ``advance`` can be called
again after a crash at any point and finishes the transfer without loss or duplication.

On several nodes (a PostgreSQL journal) the steps are shared out: the gateway node that owns
the channel admits and places, and hands each staged transfer to the worker nodes in the
commit that records it staged (``dispatch``); a worker node runs ``sanitise_handed_over``,
which plans the outcome only if its attempt is still the transfer's latest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import structlog

from gateway.clamav import ClamavUnavailableError, find_infection
from gateway.config import Channel, Config
from gateway.isolation.job import Job, WorkerResult
from gateway.isolation.provider import IsolationProvider
from gateway.journal import AuditEntry, DecisionRefusedError, Journal, Placement, Transfer
from gateway.metrics import record_transfer
from gateway.names import clean_name, clean_relative_dir
from gateway.reasons import reason_bytes
from gateway.share import OutsideShareError, lstat_entry, unlink_entry
from gateway.spool import Spool, StagingError, finish_placement, place_once
from gateway.vault import Vault
from sanitizers.pipeline import output_name, sha256_of

#: Hands a staged transfer to the worker nodes on the journal's connection, in its transaction.
Dispatch = Callable[[Any, str], None]

log = structlog.get_logger("mukaika.transfer")

MAX_SANITISE_ATTEMPTS = 10  # a file in flight whenever the daemon dies is refused, not retried forever
ENTRY_REFUSALS = ("input.not_regular", "input.hard_link")


class TransferHeldError(Exception):
    """The transfer was committed as ``held`` (clamd unavailable, ``on_unavailable = "hold"``).

    Raised out of ``advance`` so that the daemon's retry with back-off (``Gateway._retry_later``)
    advances it again later; a held transfer is re-sanitised from its staged copy.
    """


@dataclass(frozen=True)
class Destination:
    """Where a channel's results go; resolved from the config in force."""

    outbox: Path
    rejected: Path
    return_rejected: bool
    needs_approval: bool = False


def new_transfer_id() -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"


def printable(name: str) -> str:
    """A file name from the disk as text the journal and logs can hold (undecodable bytes → U+FFFD)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class TransferProcessor:
    def __init__(
        self,
        spool: Spool,
        journal: Journal,
        pool: IsolationProvider,
        config: Callable[[], Config],
        vault: Vault | None,
        dispatch: Dispatch | None = None,
        owns: Callable[[str], bool] = lambda channel: True,
    ) -> None:
        self.spool = spool
        self.journal = journal
        self.pool = pool
        self.config = config
        self.vault = vault  # None on a worker node: it never sees an original retained
        self.dispatch = dispatch  # None: this node sanitises what it admits
        self.owns = owns  # several nodes: whether this node serves a channel now
        #: where transfers of entry points other than a channel's inbox go (the mail relay's queue)
        self.destinations: dict[str, Destination] = {}

    # ── admit ──────────────────────────────────────────────────────────────────────────
    def admit(self, channel: Channel, path: Path) -> str | None:
        """Stage ``path`` and return its transfer id, or refuse/skip it and return None."""
        relative = path.relative_to(channel.inbox)
        try:
            info = lstat_entry(channel.inbox, relative)
        except (FileNotFoundError, OutsideShareError):
            return None  # gone, or reached through a symlinked folder (which is refused itself)
        transfer_id = new_transfer_id()
        self.journal.create(
            transfer_id, channel.name, clean_relative_dir(relative.parent.parts), str(path),
            printable(relative.name), clean_name(printable(relative.name)),
        )  # fmt: skip
        if not stat.S_ISREG(info.st_mode):
            self.refuse_entry(
                transfer_id, "input.not_regular", f"entry of mode {stat.filemode(info.st_mode)}"
            )
            return None
        if info.st_nlink > 1:
            self.refuse_entry(transfer_id, "input.hard_link", f"{info.st_nlink} hard links")
            return None
        try:
            staged = self.spool.stage(channel.inbox, relative, transfer_id)
        except StagingError as exc:
            self._staging_failed(transfer_id, str(exc))
            return None
        except OSError:
            self.journal.delete(transfer_id)  # still in the inbox: the next rescan retries
            raise
        values = {"size_in": staged.size, "sha256_in": staged.sha256}
        if self.dispatch is not None:
            self._hand_over(transfer_id, "admitted", **values)
            return None
        # straight to its first sanitising attempt: one commit instead of two
        self.journal.update(transfer_id, state="sanitising", attempts=1, **values)
        return transfer_id

    def _hand_over(self, transfer_id: str, state: str, **values: Any) -> None:
        """Record the transfer staged for the worker nodes, its job deferred in the same commit;
        only from ``state``, so that two nodes resuming it hand it over once."""
        dispatch = self.dispatch
        assert dispatch is not None
        self.journal.update(transfer_id, expect={"state": state}, state="sanitising", attempts=0,
                            then=lambda connection: dispatch(connection, transfer_id), **values)  # fmt: skip

    def _staging_failed(self, transfer_id: str, why: str) -> None:
        staged = self.spool.staged_path(transfer_id)
        if staged.is_symlink() or staged.exists():  # swapped for a link after the check
            staged.unlink()
            self.refuse_entry(transfer_id, "input.not_regular", why, entry_gone=True)
        else:
            self.journal.delete(transfer_id)
            log.info("staging deferred", transfer_id=transfer_id, why=why)

    def refuse_entry(self, transfer_id: str, code: str, detail: str, *, entry_gone: bool = False) -> None:
        """Refuse an inbox entry that is never staged: reason file, then remove the entry."""
        transfer = self.journal.get(transfer_id)
        reason = self._write_reason(transfer, code, detail)
        placements = [self._reason_placement(transfer, reason)]
        self.journal.plan_placements(transfer_id, placements, state="rejecting", reason_code=code,
                                     reason_message=detail)  # fmt: skip
        self._place_and_finish(self.journal.get(transfer_id))
        if not entry_gone:
            self._remove_refused_entry(transfer)

    # ── advance ────────────────────────────────────────────────────────────────────────
    async def advance(self, transfer_id: str, *, just_admitted: bool = False) -> None:
        """Take a transfer from whatever state it is in to a final one.

        File and journal work (renames, copies, fsyncs, commits) runs in threads so that
        many transfers' I/O overlaps; only the worker is awaited on the event loop. On several
        nodes a gateway only hands staged transfers over and places what the workers planned.
        """
        if self.dispatch is not None:
            await asyncio.to_thread(self._hand_over_or_finish, transfer_id)
            return
        async with self.pool.slot():  # an attempt is counted only once a worker is free for it
            job = await asyncio.to_thread(self._prepare_sanitising, transfer_id, just_admitted)
            result = None
            if job is not None:
                result = await self.pool.sanitise(job)
                if result.verdict == "released":
                    result = await self.pool.verify(job, result)  # only what a fresh verifier vouches for
        if result is not None:
            if result.verdict == "released" and self.config().clamav.enabled:
                result = await self._screen_with_clamav(transfer_id, result)
            await asyncio.to_thread(self._plan_outcome, transfer_id, result)
        await asyncio.to_thread(self._finish, transfer_id)

    def _prepare_sanitising(self, transfer_id: str, just_admitted: bool) -> Job | None:
        """Resume staging if needed and count a sanitising attempt; None if no worker is due.

        ``admit`` already recorded the first attempt; a resumed transfer records a new one.
        """
        transfer: Transfer | None = self.journal.get(transfer_id)
        if transfer is not None and transfer.state == "admitted":
            transfer = self._resume_admitted(transfer)
        if transfer is None or transfer.state not in ("staged", "sanitising", "held"):
            return None
        attempts = transfer.attempts if just_admitted else transfer.attempts + 1
        if not just_admitted:
            self.journal.update(transfer.id, state="sanitising", attempts=attempts)
        if attempts > MAX_SANITISE_ATTEMPTS:
            self._plan_outcome(transfer_id, _interrupted(transfer))
            return None
        return self._job(transfer, attempts)

    def _job(self, transfer: Transfer, attempts: int, *, unique: bool = False) -> Job:
        """The job of attempt ``attempts``; ``unique`` (several nodes) gives its directory a name
        of its own, since a claim the database lost in a crash hands the same number out again."""
        config = self.config()
        rules = config.policy(transfer.channel if self._channel(config, transfer) else None).rules
        name = f"attempt-{attempts}-{secrets.token_hex(4)}" if unique else f"attempt-{attempts}"
        work_dir = self.spool.work_dir(transfer.id) / name  # never shared with an orphan
        staged = self.spool.staged_path(transfer.id)
        return Job(transfer.id, staged, transfer.name, work_dir, rules, config.limits, transfer.sha256_in)

    # ── several nodes ──────────────────────────────────────────────────────────────────
    def _hand_over_or_finish(self, transfer_id: str) -> None:
        """A gateway node's part: hand a staged transfer over, or place a planned outcome.

        Placing, and resuming an interrupted staging, are the channel owner's; a staged
        transfer (a mail this node's relay accepted) is handed over by whichever node has it.
        """
        transfer = self.journal.view.transfer(transfer_id)
        owner = transfer is not None and self.owns(transfer.channel)
        if owner and transfer is not None and transfer.state == "admitted":
            transfer = self._resume_admitted(transfer)
        if transfer is not None and transfer.state == "staged":
            self._hand_over(transfer_id, "staged")
        elif owner and transfer is not None:
            self._finish(transfer_id, transfer)

    async def sanitise_handed_over(self, transfer_id: str) -> None:
        """A worker node's part: one attempt at a handed-over transfer, then its planned outcome.

        Raises (and the job queue retries) when something outside the file failed: the
        journal or the spool unreachable, or clamd down with ``on_unavailable = "hold"``.
        """
        async with self.pool.slot():
            claimed = await asyncio.to_thread(self._claim_attempt, transfer_id)
            if claimed is None:
                return
            job, attempt = claimed
            result = await self.pool.sanitise(job)
            if result.verdict == "released":
                result = await self.pool.verify(job, result)
        if result.verdict == "released" and self.config().clamav.enabled:
            result = await self._screen_with_clamav(transfer_id, result, attempt)
        await asyncio.to_thread(self._plan_outcome, transfer_id, result, attempt)

    def _claim_attempt(self, transfer_id: str) -> tuple[Job, Attempt] | None:
        """Count a new attempt if the transfer still waits for one; check the staged copy.

        The shared spool is a NAS: the staged file is hashed again and must be what the
        gateway staged, or the transfer is refused rather than sanitised from other bytes.
        """
        transfer = self.journal.get(transfer_id)
        if transfer.state not in ("sanitising", "held"):
            return None  # planned by an earlier run of this job
        number = transfer.attempts + 1
        claimed = self.journal.update(transfer_id, expect={"state": transfer.state, "attempts": transfer.attempts},
                                      state="sanitising", attempts=number)  # fmt: skip
        if claimed is None:
            return None
        attempt = Attempt(number, claimed)
        if attempt.number > MAX_SANITISE_ATTEMPTS:
            self._plan_outcome(transfer_id, _interrupted(transfer), attempt)
            return None
        try:  # as at staging: a lone plain file, never followed through a link or read from a FIFO
            why = (
                None
                if self.spool.inspect_staged(transfer_id).sha256 == transfer.sha256_in
                else "another hash"
            )
        except StagingError as exc:
            why = str(exc)
        if why is not None:
            changed = WorkerResult.refused("spool.changed", f"the staged copy is not what was staged: {why}")
            self._plan_outcome(transfer_id, changed, attempt)
            return None
        return self._job(claimed, attempt.number, unique=True), attempt

    async def _screen_with_clamav(
        self, transfer_id: str, result: WorkerResult, attempt: Attempt | None = None
    ) -> WorkerResult:
        """Scan the worker's output (what would be released), then the staged original.

        Rejected files are not scanned: nothing of theirs is released. Raises TransferHeldError.
        """
        assert result.output_path is not None
        settings = self.config().clamav
        files = {"output": result.output_path, "original": self.spool.staged_path(transfer_id)}
        try:
            infection = await asyncio.to_thread(find_infection, settings, files)
        except ClamavUnavailableError as exc:
            if settings.on_unavailable == "reject":
                return WorkerResult("rejected", "av.unavailable", str(exc), file_type=result.file_type)
            await asyncio.to_thread(self._hold, transfer_id, str(exc), attempt)
            raise TransferHeldError(f"held until clamd can scan it: {exc}") from exc
        if infection is None:
            return result
        return WorkerResult("rejected", "av.infected", infection, file_type=result.file_type)

    def _hold(self, transfer_id: str, why: str, attempt: Attempt | None = None) -> None:
        """Park the transfer; its attempt ended cleanly, so it does not count towards MAX_SANITISE_ATTEMPTS."""
        if attempt is None:
            self.spool.discard_work(transfer_id)  # before the commit: the next attempt reuses attempt-1
        self.journal.update(transfer_id, expect=_latest(attempt), state="held", attempts=0,
                            reason_code="av.unavailable", reason_message=why)  # fmt: skip

    def _plan_outcome(self, transfer_id: str, result: WorkerResult, attempt: Attempt | None = None) -> None:
        """Plan the release or refusal; with an ``attempt`` (several nodes), only if it is still
        the transfer's latest, so that a job run twice (a worker node lost mid-job) plans once."""
        transfer = attempt.transfer if attempt is not None else self.journal.get(transfer_id)
        if result.verdict == "released":
            planned = self._plan_release(transfer, result, attempt)
        else:
            planned = self._plan_rejection(transfer, result, attempt)
        if not planned:
            log.warning("outcome not planned: a later attempt has the transfer", transfer_id=transfer_id,
                        attempt=attempt.number if attempt else None)  # fmt: skip

    def _finish(self, transfer_id: str, transfer: Transfer | None = None) -> None:
        """Place and finish a transfer whose outcome is planned (``transfer``: as just read)."""
        transfer = transfer or self.journal.view.transfer(transfer_id)
        if transfer is not None and transfer.state in ("releasing", "rejecting"):
            self._place_and_finish(transfer)
            if transfer.reason_code in ENTRY_REFUSALS:
                self._remove_refused_entry(transfer)

    def _resume_admitted(self, transfer: Transfer) -> Transfer | None:
        """A crash between the journal row and the rename: the file is in the spool or the inbox."""
        staged = self.spool.staged_path(transfer.id)
        if not (staged.exists() or staged.is_symlink()):
            self.journal.delete(transfer.id)  # never staged; the inbox rescan takes it again
            return None
        try:
            info = self.spool.inspect_staged(transfer.id)
        except StagingError as exc:
            self._staging_failed(transfer.id, str(exc))
            return None
        return self.journal.update(transfer.id, state="staged", size_in=info.size, sha256_in=info.sha256)

    def _plan_release(self, transfer: Transfer, result: WorkerResult, attempt: Attempt | None) -> bool:
        assert result.output_path and result.output_type and result.output_sha256
        destination = self._destination(transfer)
        name = output_name(transfer.name, result.output_type)
        placement = Placement("output", str(destination.outbox.joinpath(*transfer.folders)), name,
                              str(result.output_path), result.output_sha256)  # fmt: skip
        # planned either way, so an approval only has to turn the placement loose
        state = "awaiting_approval" if destination.needs_approval else "releasing"
        planned = self.journal.plan_placements(
            transfer.id, [placement], expect=_latest(attempt), state=state, file_type=result.file_type, method=result.method,
            reason_code=None, reason_message=None,  # left by a hold
            findings=json.dumps([f.as_dict() for f in result.findings], ensure_ascii=False), name_out=name,
            size_out=result.output_size, sha256_out=result.output_sha256,
        )  # fmt: skip

        if planned and destination.needs_approval:
            log.info("awaiting approval", transfer_id=transfer.id, channel=transfer.channel, name_out=name)
        return planned

    def _plan_rejection(self, transfer: Transfer, result: WorkerResult, attempt: Attempt | None) -> bool:
        code, detail = result.reason_code or "sanitizer.crash", result.reason_message or ""
        # each attempt its own reason file: a late one cannot rewrite the file another planned
        reason_file = f"reason-{attempt.number}.txt" if attempt else "reason.txt"
        placements = self._rejection_placements(transfer, code, detail, reason_file)
        return self.journal.plan_placements(transfer.id, placements, expect=_latest(attempt), state="rejecting",
                                            file_type=result.file_type, reason_code=code, reason_message=detail)  # fmt: skip

    def _rejection_placements(
        self, transfer: Transfer, code: str, detail: str, reason_file: str
    ) -> list[Placement]:
        reason = self._write_reason(transfer, code, detail, reason_file)
        placements = [self._reason_placement(transfer, reason)]
        destination = self._destination(transfer)
        if destination.return_rejected and code != "av.infected":  # known malware stays in the spool
            staged = self.spool.staged_path(transfer.id)
            placements.append(Placement("original", str(destination.rejected.joinpath(*transfer.folders)),
                                        transfer.name, str(staged), transfer.sha256_in or ""))  # fmt: skip
        return placements

    # ── approval of held transfers ─────────────────────────────────────────────────────
    def release_held(self, transfer_id: str, approver: str, audit: AuditEntry) -> None:
        """Commit an approver's release; the daemon then places the output like any other.

        Raises journal.DecisionRefusedError if the transfer no longer awaits approval.
        """
        self.journal.decide_held(transfer_id, approver, audit)

    def deny_held(self, transfer_id: str, approver: str, note: str, audit: AuditEntry) -> None:
        """Commit an approver's denial: a reason file replaces the planned output."""
        transfer = self.journal.get(transfer_id)
        if transfer.state != "awaiting_approval":
            raise DecisionRefusedError("not_awaiting")
        # a name of its own, so a concurrent denial cannot rewrite the file this one planned
        reason_file = f"reason-denied-{secrets.token_hex(4)}.txt"
        placements = self._rejection_placements(
            transfer, "approval.denied", f"{approver}: {note}", reason_file
        )
        self.journal.decide_held(transfer_id, approver, audit, placements, reason_code="approval.denied",
                                 reason_message=note)  # fmt: skip

    # ── place and finish ───────────────────────────────────────────────────────────────
    def _place_and_finish(self, transfer: Transfer) -> None:
        state = "released" if transfer.state == "releasing" else "rejected"
        placements = self.journal.placements(transfer.id)
        finals = {p.key: p.final_path for p in placements if p.final_path is not None}
        for placement in placements:
            if placement.final_path is None:
                finals[placement.key] = str(place_once(placement, f"{transfer.id}-{placement.key}"))
                closing = len(finals) == len(placements)  # the last placement also closes the transfer
                values = {"state": state, "path_out": _main_output(finals)} if closing else {}
                self.journal.placement_done(transfer.id, placement.key, finals[placement.key], **values)
        done = self.journal.get(transfer.id)
        if done.state != state:  # every placement had been recorded before a crash
            done = self.journal.update(transfer.id, state=state, path_out=_main_output(finals))
        self.tidy_finished(transfer.id)
        log_transfer(done)

    def tidy_finished(self, transfer_id: str) -> None:
        """After the final state is committed: drop placement temp names, keep the original,
        remove scratch. Idempotent, so start-up redoes it for transfers a crash interrupted here."""
        for placement in self.journal.placements(transfer_id):
            finish_placement(Path(placement.directory), f"{transfer_id}-{placement.key}")
        assert self.vault is not None, "only gateway nodes finish transfers"
        self.spool.retain_original(transfer_id, self.vault)
        self.spool.discard_work(transfer_id)

    def _write_reason(
        self, transfer: Transfer, code: str, detail: str, file_name: str = "reason.txt"
    ) -> Path:
        work_dir = self.spool.work_dir(transfer.id)
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / file_name
        path.write_bytes(reason_bytes(name=transfer.name, transfer_id=transfer.id, code=code, detail=detail))
        return path

    def _reason_placement(self, transfer: Transfer, reason: Path) -> Placement:
        directory = self._destination(transfer).rejected.joinpath(*transfer.folders)
        return Placement(
            "reason", str(directory), f"{transfer.name}.reason.txt", str(reason), sha256_of(reason)
        )

    def _remove_refused_entry(self, transfer: Transfer) -> None:
        """Unlink a refused link/FIFO/hard link from the inbox, unless a plain file replaced it."""
        channel = self._channel(self.config(), transfer)
        if channel is None:
            return
        relative = PurePath(transfer.inbox_path).relative_to(channel.inbox)
        with contextlib.suppress(FileNotFoundError, OutsideShareError):
            info = lstat_entry(channel.inbox, relative)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                unlink_entry(channel.inbox, relative)

    def _destination(self, transfer: Transfer) -> Destination:
        if transfer.channel in self.destinations:
            return self.destinations[transfer.channel]
        config = self.config()
        channel = self._channel(config, transfer)
        if channel is None:  # removed by a reload: finish in the spool's fallback area
            fallback = self.spool.root / "orphaned" / transfer.channel
            return Destination(fallback / "outbox", fallback / "rejected", False)
        return Destination(channel.outbox, channel.rejected, channel.return_rejected, channel.needs_approval)

    @staticmethod
    def _channel(config: Config, transfer: Transfer) -> Channel | None:
        return next((c for c in config.channels if c.name == transfer.channel), None)


@dataclass(frozen=True)
class Attempt:
    """A worker node's numbered attempt at a transfer (several nodes), and the transfer as claimed."""

    number: int
    transfer: Transfer


def _latest(attempt: Attempt | None) -> dict[str, object] | None:
    """The journal condition under which ``attempt`` may still decide its transfer."""
    return None if attempt is None else {"state": "sanitising", "attempts": attempt.number}


def _interrupted(transfer: Transfer) -> WorkerResult:
    return WorkerResult.refused("worker.crash", f"interrupted {transfer.attempts} times while sanitising")


def _main_output(finals: Mapping[str, str | None]) -> str | None:
    return finals.get("output") or finals.get("reason")


def log_transfer(transfer: Transfer) -> None:
    """The one canonical line per transfer (DESIGN principle 6; its fields are tabled in the README).

    Each fact once: the name as it arrived only when cleaning changed it, the findings only
    in full (what was removed is each finding's action), the output's name only in its path.
    """
    fields: dict[str, object] = {
        "transfer_id": transfer.id,
        "channel": transfer.channel,
        "verdict": transfer.state,
        "reason": transfer.reason_code,
        "reason_message": transfer.reason_message,
        "name": transfer.name,
        "folders": transfer.folders,
        "size_in": transfer.size_in,
        "sha256_in": transfer.sha256_in,
        "file_type": transfer.file_type,
        "method": transfer.method,
        "findings": json.loads(transfer.findings) if transfer.findings else [],
        "path_out": transfer.path_out,
        "size_out": transfer.size_out,
        "sha256_out": transfer.sha256_out,
        "attempts": transfer.attempts,
        "duration_ms": round(((transfer.finished or transfer.updated) - transfer.created) * 1000, 1),
    }
    if transfer.name_in != transfer.name:
        fields["name_in"] = transfer.name_in
    log.info("transfer", **fields)
    record_transfer(transfer)
