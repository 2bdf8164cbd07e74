"""Originals at rest: AES-256-GCM in chunks, so a large file never sits whole in memory.

    file   = MAGIC nonce_prefix(8) record*
    record = length(4, big-endian; top bit set on the last record) ciphertext(length)

Each 1 MiB chunk is sealed with nonce = nonce_prefix || chunk index and with associated
data naming the file's id, the chunk index and whether it is the last one, so chunks
cannot be reordered, truncated away or moved to another transfer's original unnoticed.
The key is 32 random bytes in a file of mode 0600 (created at install or first start).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"MKV1"
KEY_BYTES = 32
CHUNK = 1 << 20
_LAST = 0x8000_0000
_TAG = 16


class VaultError(Exception):
    """The key file is unusable, or an encrypted original is damaged or not ours."""


def create_key_file(path: Path) -> bool:
    """Write a new random key with mode 0600 unless one exists; True if it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def load_key(path: Path) -> bytes:
    """Read the key, refusing a file that others than its owner could read or replace."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise VaultError(f"cannot open the originals key {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise VaultError(f"the originals key {path} is not a regular file")
        if info.st_mode & 0o077:
            raise VaultError(
                f"the originals key {path} has mode {stat.S_IMODE(info.st_mode):04o}; it must be 0600 or stricter"
            )
        # mode 0600 protects nothing if the owner is someone else (root may read it anyway)
        if info.st_uid not in (os.geteuid(), 0):
            raise VaultError(f"the originals key {path} is owned by uid {info.st_uid}, not by this service")
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise VaultError(f"the originals key {path} must hold exactly {KEY_BYTES} bytes")
    return key


class Vault:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def open(cls, path: Path, *, create: bool = False) -> Vault:
        if create:
            create_key_file(path)
        return cls(load_key(path))

    def encrypt(self, reader: BinaryIO, writer: BinaryIO, file_id: str) -> None:
        prefix = secrets.token_bytes(8)
        writer.write(MAGIC + prefix)
        index = 0
        chunk = reader.read(CHUNK)
        while True:
            following = reader.read(CHUNK) if len(chunk) == CHUNK else b""
            last = not following
            sealed = self._aead.encrypt(_nonce(prefix, index), chunk, _aad(file_id, index, last))
            writer.write((len(sealed) | (_LAST if last else 0)).to_bytes(4, "big") + sealed)
            if last:
                return
            chunk, index = following, index + 1

    def decrypt(self, reader: BinaryIO, writer: BinaryIO, file_id: str) -> str:
        """Write the plaintext, each chunk only after its tag checked; return its SHA-256."""
        header = reader.read(len(MAGIC) + 8)
        if len(header) != len(MAGIC) + 8 or not header.startswith(MAGIC):
            raise VaultError("not an encrypted original")
        prefix = header[len(MAGIC) :]
        digest = hashlib.sha256()
        index = 0
        while True:
            head = reader.read(4)
            if len(head) != 4:
                raise VaultError("the encrypted original is truncated")
            word = int.from_bytes(head, "big")
            last, length = bool(word & _LAST), word & ~_LAST
            if length < _TAG or length > CHUNK + _TAG:
                raise VaultError("the encrypted original is damaged")
            sealed = reader.read(length)
            try:
                chunk = self._aead.decrypt(_nonce(prefix, index), sealed, _aad(file_id, index, last))
            except InvalidTag:
                raise VaultError("the encrypted original is damaged or belongs to another file") from None
            digest.update(chunk)
            writer.write(chunk)
            if last:
                if reader.read(1):
                    raise VaultError("the encrypted original has data after its last chunk")
                return digest.hexdigest()
            index += 1

    def encrypt_file(self, src: Path, dst: Path, file_id: str) -> None:
        """Encrypt ``src`` into the new file ``dst`` (never through a symlink) and fsync it."""
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with (
                os.fdopen(fd, "wb") as writer,
                os.fdopen(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb") as reader,
            ):
                self.encrypt(reader, writer, file_id)
                writer.flush()
                os.fsync(writer.fileno())
        except BaseException:
            dst.unlink(missing_ok=True)
            raise

    def decrypt_file(self, src: Path, dst: Path, file_id: str) -> str:
        """Decrypt ``src`` into the new file ``dst`` and fsync it; ``dst`` is gone on failure."""
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
        try:
            with os.fdopen(fd, "wb") as writer, src.open("rb") as reader:
                digest = self.decrypt(reader, writer, file_id)
                writer.flush()
                os.fsync(writer.fileno())
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        return digest


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


def _aad(file_id: str, index: int, last: bool) -> bytes:
    return MAGIC + file_id.encode() + b"\0" + index.to_bytes(4, "big") + (b"\1" if last else b"\0")
