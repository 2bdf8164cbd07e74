"""Type 1 decryption (sanitizers/pdf/_eexec.c)."""

def decrypt(data: bytes, key: int, /) -> bytes:
    """Type 1 decryption of ``data`` with the initial ``key`` (55665 eexec, 4330 charstrings)."""
