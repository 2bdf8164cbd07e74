"""Originals at rest: chunked AES-256-GCM round trip, tampering detected, key file strictness."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from gateway.vault import CHUNK, Vault, VaultError, create_key_file, load_key
from tests.gateway.daemon_harness import MUKAIKA, RunningGateway


def seal(vault: Vault, data: bytes, file_id: str = "t1") -> bytes:
    out = io.BytesIO()
    vault.encrypt(io.BytesIO(data), out, file_id)
    return out.getvalue()


def open_sealed(vault: Vault, sealed: bytes, file_id: str = "t1") -> bytes:
    out = io.BytesIO()
    digest = vault.decrypt(io.BytesIO(sealed), out, file_id)
    assert digest == hashlib.sha256(out.getvalue()).hexdigest()
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 17])
def test_round_trip_of_every_chunking(size: int) -> None:
    vault = Vault(os.urandom(32))
    data = os.urandom(size)
    sealed = seal(vault, data)
    assert size < 16 or data[:64] not in sealed
    assert open_sealed(vault, sealed) == data


def test_tampering_truncation_another_key_or_another_file_id_is_detected() -> None:
    vault = Vault(os.urandom(32))
    data = os.urandom(CHUNK + 100)
    sealed = seal(vault, data)
    flipped = bytearray(sealed)
    flipped[len(sealed) // 2] ^= 1
    first_record_end = 12 + 4 + CHUNK + 16
    for damaged in (bytes(flipped), sealed[:first_record_end], sealed[:-1], sealed + b"x", b"junk"):
        with pytest.raises(VaultError):
            open_sealed(vault, damaged)
    with pytest.raises(VaultError):
        open_sealed(Vault(os.urandom(32)), sealed)
    with pytest.raises(VaultError):
        open_sealed(vault, sealed, file_id="t2")  # an original moved to another transfer's name


def test_a_failed_decryption_leaves_no_partial_file(tmp_path: Path) -> None:
    vault = Vault(os.urandom(32))
    (tmp_path / "sealed").write_bytes(seal(vault, os.urandom(CHUNK + 5))[:-3])
    with pytest.raises(VaultError):
        vault.decrypt_file(tmp_path / "sealed", tmp_path / "plain", "t1")
    assert not (tmp_path / "plain").exists()


def test_the_key_file_is_created_0600_once_and_wider_modes_are_refused(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "originals.key"
    assert create_key_file(key) is True
    assert (key.stat().st_mode & 0o777) == 0o600 and len(key.read_bytes()) == 32
    first = key.read_bytes()
    assert create_key_file(key) is False and key.read_bytes() == first
    key.chmod(0o640)
    with pytest.raises(VaultError, match="0640"):
        load_key(key)
    key.chmod(0o600)
    key.write_bytes(b"short")
    with pytest.raises(VaultError, match="32 bytes"):
        load_key(key)
    link = tmp_path / "link.key"
    link.symlink_to(key)
    with pytest.raises(VaultError):
        load_key(link)


def test_a_key_owned_by_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "originals.key"
    create_key_file(key)
    if os.geteuid() == 0:
        os.chown(key, 4242, -1)  # 0600, but that user can read or replace it
    else:
        monkeypatch.setattr(os, "geteuid", lambda: key.stat().st_uid + 1)
    with pytest.raises(VaultError, match="owned by"):
        load_key(key)


@pytest.mark.slow
def test_the_daemon_creates_its_key_and_refuses_to_start_when_the_key_is_readable_by_others(
    tmp_path: Path,
) -> None:
    gateway = RunningGateway(tmp_path)
    with gateway:
        key = gateway.spool / "originals.key"
        assert (key.stat().st_mode & 0o777) == 0o600
    key.chmod(0o644)
    result = subprocess.run([str(MUKAIKA), "run", "--config", str(gateway.config)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "originals key" in result.stdout + result.stderr and "0644" in result.stdout + result.stderr
