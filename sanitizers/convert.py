"""PDF化 and 画像化 of office documents: LibreOffice converts, then the PDF sanitisers finish.

LibreOffice parses the hostile document, so it runs like every parser here: inside the
isolated worker (rlimits, private network namespace where the kernel allows one), in its
own process group that is killed on timeout, with a fresh private profile per run whose
settings forbid macros and link updates. Whatever PDF it writes is untrusted too and goes
through the PDF rebuild (or rasteriser) like a PDF from the internet would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Finding, Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import SanitizeError
from sanitizers.pdf import PdfImage, PdfRebuild
from sanitizers.types import TYPES

CONVERTIBLE = frozenset({"docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "doc", "xls", "ppt", "rtf"})
SOFFICE_NAMES = ("soffice", "libreoffice")
_KILL_GRACE_SECONDS = 2.0

# Macros never run (level 3 = "very high", and execution disabled outright); links to other
# files or URLs are never updated while loading (Writer: 0 = never; Calc: 1 = never).
_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
</oor:items>
"""


def soffice_path() -> str | None:
    return next((path for name in SOFFICE_NAMES if (path := shutil.which(name))), None)


def convert_to_pdf(untrusted_src: Path, work: Path, limits: Limits) -> Path:
    """Run LibreOffice on a private copy of the document; return the PDF it wrote."""
    soffice = soffice_path()
    if soffice is None:
        raise SanitizeError("convert.failed", "LibreOffice (soffice) is not installed")
    source_type = detect(untrusted_src).type
    if source_type not in CONVERTIBLE:
        raise SanitizeError("convert.failed", f"{source_type} is not an office format LibreOffice converts")
    document = work / f"document.{TYPES[source_type].output_extension}"
    shutil.copyfile(untrusted_src, document)
    profile = work / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
    out = work / "out"
    argv = [soffice, "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "pdf", "--outdir", str(out),
            str(document)]  # fmt: skip
    _run_in_own_group(argv, work, timeout=max(5.0, limits.timeout_seconds * 0.75))
    converted = out / "document.pdf"
    if not converted.is_file() or converted.is_symlink() or converted.stat().st_size == 0:
        raise SanitizeError("convert.failed", "LibreOffice wrote no PDF (the document may be damaged)")
    return converted


def _run_in_own_group(argv: list[str], cwd: Path, timeout: float) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "ja_JP.UTF-8",
           "SAL_USE_VCLPLUGIN": "svp"}  # fmt: skip
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        raise SanitizeError("convert.failed", f"LibreOffice did not finish within {timeout:.0f}s") from None
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # also any helper it left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_KILL_GRACE_SECONDS)
                break


class _ConvertThen(Sanitizer):
    """Convert with LibreOffice in a scratch dir beside ``dst``, then hand the PDF on."""

    types: ClassVar[frozenset[str]] = CONVERTIBLE
    then: ClassVar[Sanitizer]

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        with tempfile.TemporaryDirectory(prefix=".convert-", dir=dst.parent) as work:
            converted = convert_to_pdf(untrusted_src, Path(work), limits)
            report = self.then.sanitize(converted, dst, options, limits)
        report.findings.insert(0, Finding("office.converted", "converted", 1, "LibreOffice → PDF"))
        return report


class OfficeToPdf(_ConvertThen):
    """PDF化: the document as a rebuilt PDF (text stays selectable)."""

    method: ClassVar[str] = "pdf"
    then: ClassVar[Sanitizer] = PdfRebuild()
    options: ClassVar[Mapping[str, OptionSpec]] = PdfRebuild.options


class OfficeToImage(_ConvertThen):
    """画像化: the document's pages as pixels in a PDF."""

    method: ClassVar[str] = "image"
    then: ClassVar[Sanitizer] = PdfImage()
    options: ClassVar[Mapping[str, OptionSpec]] = PdfImage.options
