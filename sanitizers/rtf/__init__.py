"""RTF sanitiser: rebuild (CDR) by cutting objects and active destinations from the group tree."""

from sanitizers.rtf.rebuild import RtfRebuild

__all__ = ["RtfRebuild"]
