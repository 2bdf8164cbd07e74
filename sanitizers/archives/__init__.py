"""Archives: ZIP rebuilt member by member through the pipeline; other formats refused."""

from sanitizers.archives.refuse import ArchiveRefusal
from sanitizers.archives.zipbuild import ZipRebuild

__all__ = ["ArchiveRefusal", "ZipRebuild"]
