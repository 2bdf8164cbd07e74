"""Office 97-2003 compound files (doc, xls, ppt): rebuild from allow-listed streams."""

from sanitizers.ole.rebuild import OleRebuild

__all__ = ["OleRebuild"]
