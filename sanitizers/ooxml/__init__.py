"""Office Open XML (Word, Excel, PowerPoint): rebuild from an allow-list; .xlsb refused."""

from sanitizers.ooxml.rebuild import OoxmlRebuild, XlsbRefusal

__all__ = ["OoxmlRebuild", "XlsbRefusal"]
