"""The OpenType Sanitizer, in-process (sanitizers/_ots.cc)."""

def sanitize(font: bytes, /) -> bytes:
    """OTS's rewriting of an OpenType or TrueType font; ValueError with OTS's reason if it
    refuses it, MemoryError if it runs out of memory."""
