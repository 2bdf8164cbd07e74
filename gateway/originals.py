"""Release of retained originals with four-eyes approval.

    request (operator, with a reason) → approve | deny (an approver who is not the requester)
                                       → expire (nobody decided in time)
    approved → the original is decrypted into the channel's approved/ folder (a mail's into
               [smtp] approved, as <transfer id>.eml), exactly once

The decision is committed before the placement, and the placement uses the same temp
name + link + record steps as every release (``spool.place_once``), so a crash between
them is finished by ``resume`` at the next start. Originals never go to an outbox.
With [clamav], clamd scans the original before an approval commits: the original of a
rejected file was never scanned, since nothing of it was to be released.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from gateway.audit import log_audit
from gateway.clamav import ClamavUnavailableError, find_infection
from gateway.config import MAIL_CHANNEL, Config
from gateway.journal import AuditEntry, DecisionRefusedError, Journal, Placement, ReleaseRequest, Transfer
from gateway.spool import Spool, finish_placement, place_once
from gateway.vault import Vault, VaultError

log = structlog.get_logger("mukaika.originals")

NOT_RELEASABLE = ("av.infected",)  # known malware is never handed back, not even on approval


class OriginalReleases:
    def __init__(self, journal: Journal, spool: Spool, vault: Vault, config: Callable[[], Config]) -> None:
        self.journal = journal
        self.spool = spool
        self.vault = vault
        self.config = config
        self._placing = threading.Lock()  # the console and the start-up resume may meet here

    def request(self, transfer_id: str, user: str, reason: str, remote: str) -> int:
        """Record an operator's request; raises DecisionRefusedError naming why it cannot be made."""
        transfer = self.journal.view.transfer(transfer_id)
        if transfer is None:
            raise DecisionRefusedError("no_transfer")
        if not reason.strip():
            raise DecisionRefusedError("reason_required")
        if transfer.finished is None:
            raise DecisionRefusedError("not_finished")
        if transfer.reason_code in NOT_RELEASABLE:
            raise DecisionRefusedError("infected")
        if transfer.original_purged or not self.spool.original_path(transfer_id).exists():
            raise DecisionRefusedError("no_original")
        expires = time.time() + self.config().console.request_expiry_hours * 3600
        entry = AuditEntry(user, "release.request", "", remote, f"transfer {transfer_id}: {reason.strip()}")
        request_id = self.journal.request_release(transfer_id, user, reason.strip(), expires, entry)
        log_audit(AuditEntry(user, entry.action, f"request:{request_id}", remote, entry.detail))
        return request_id

    def decide(self, request_id: int, user: str, *, approve: bool, note: str, remote: str) -> ReleaseRequest:
        """An approver's decision; an approval is placed at once. Raises DecisionRefusedError."""
        now = time.time()
        self.expire(now)
        request = self.journal.view.release_request(request_id)
        if request is None:
            raise DecisionRefusedError("no_request")
        directory = None
        if approve:
            transfer = self.journal.get(request.transfer_id)
            directory = str(self._approved_dir(transfer))
            if request.state == "pending" and request.requested_by != user:  # else the journal refuses it
                self._screen(transfer)
        action = "release.approve" if approve else "release.deny"
        entry = AuditEntry(user, action, f"request:{request_id}", remote,
                           f"transfer {request.transfer_id}" + (f": {note}" if note else ""))  # fmt: skip
        decided = self.journal.decide_release(request_id, user, approve=approve, note=note, now=now,
                                              directory=directory, audit=entry)  # fmt: skip
        log_audit(entry)
        if approve:
            self.place(decided)
        return decided

    def _approved_dir(self, transfer: Transfer) -> Path:
        """A channel's approved/ folder; for a mail, [smtp] approved. Raises DecisionRefusedError."""
        config = self.config()
        if transfer.channel == MAIL_CHANNEL:
            return config.smtp.approved.absolute()
        channel = config.channel(transfer.channel)
        if channel is None:
            raise DecisionRefusedError("no_channel")
        return channel.approved_dir.joinpath(*transfer.folders)

    def _screen(self, transfer: Transfer) -> None:
        """With [clamav], have clamd scan the original; raises DecisionRefusedError unless it is clean.

        The plaintext is scanned inside the private spool and removed again; the placement
        decrypts the same bytes later (the AEAD tags and the recorded SHA-256 see to that).
        """
        settings = self.config().clamav
        if not settings.enabled:
            return
        scratch = self.spool.work_dir(transfer.id)
        scratch.mkdir(parents=True, exist_ok=True)
        plain = scratch / f"original-scan-{secrets.token_hex(4)}"  # two approvers may scan at once
        try:
            digest = self.vault.decrypt_file(self.spool.original_path(transfer.id), plain, transfer.id)
            if digest != transfer.sha256_in:
                raise DecisionRefusedError("damaged")
            infection = find_infection(settings, {"original": plain})
        except FileNotFoundError:
            raise DecisionRefusedError("no_original") from None
        except VaultError:
            raise DecisionRefusedError("damaged") from None
        except ClamavUnavailableError as exc:
            log.warning(
                "original not released: clamd cannot scan it", transfer_id=transfer.id, error=str(exc)
            )
            raise DecisionRefusedError("scan_unavailable") from None
        finally:
            plain.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                scratch.rmdir()
        if infection is not None:
            log.warning("original not released: infected", transfer_id=transfer.id, infection=infection)
            raise DecisionRefusedError("infected")

    def place(self, request: ReleaseRequest) -> Path:
        """Decrypt an approved original into its approved/ folder exactly once; record where."""
        assert request.directory is not None
        with self._placing:
            current = self.journal.view.release_request(request.id)
            if current is not None and current.state == "released" and current.final_path:
                return Path(current.final_path)
            transfer = self.journal.get(request.transfer_id)
            placement = Placement("approved-original", request.directory, transfer.name,
                                  str(self.spool.original_path(transfer.id)), transfer.sha256_in or "")  # fmt: skip
            temp_key = f"{transfer.id}-original-{request.id}"
            final = place_once(placement, temp_key,
                               lambda src, dst: self.vault.decrypt_file(src, dst, transfer.id))  # fmt: skip
            entry = AuditEntry("system", "release.placed", f"request:{request.id}",
                               detail=f"transfer {transfer.id} -> {final}")  # fmt: skip
            self.journal.release_placed(request.id, str(final), entry)
            finish_placement(Path(request.directory), temp_key)
        log_audit(entry)
        return final

    def resume(self, owns: Callable[[str], bool] = lambda channel: True) -> None:
        """Place approvals that a crash or a full disk interrupted; retried at every call.

        Several nodes: only those of the channels this node serves (``owns``), so that two
        nodes never place the same original at once."""
        for request in self.journal.view.release_requests(states=("approved",)):
            try:
                transfer = self.journal.view.transfer(request.transfer_id)
                if transfer is None or not owns(transfer.channel):
                    continue
                self.place(request)
            except (OSError, KeyError, VaultError) as exc:
                log.error("approved original not placed yet; will retry", request_id=request.id,
                          transfer_id=request.transfer_id, error=str(exc))  # fmt: skip

    def expire(self, now: float | None = None) -> list[ReleaseRequest]:
        expired = self.journal.expire_requests(time.time() if now is None else now)
        for request in expired:
            log_audit(AuditEntry("system", "release.expire", f"request:{request.id}",
                                 detail=f"transfer {request.transfer_id}"))  # fmt: skip
        return expired
