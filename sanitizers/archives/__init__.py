"""Archives: ZIP read by zipfile, 7z, RAR, LZH, tar, compressed streams, ISO and cab by
libarchive; every member rebuilt through the pipeline."""

from sanitizers.archives.archivebuild import ArchiveRebuild
from sanitizers.archives.zipbuild import ZipRebuild

__all__ = ["ArchiveRebuild", "ZipRebuild"]
