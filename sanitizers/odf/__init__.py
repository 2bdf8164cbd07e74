"""OpenDocument text, spreadsheets and presentations (packages and flat XML): rebuilt from
an allow-list."""

from sanitizers.odf.rebuild import OdfRebuild

__all__ = ["OdfRebuild"]
