"""PDF化 and 画像化 of office documents: LibreOffice converts, then the PDF sanitisers finish.

LibreOffice parses the hostile document, so it runs like every parser here: inside the
confined worker, whose walls it inherits, in its own process group that is killed on timeout
and dies with the worker, with a fresh private profile per run whose settings forbid macros
and link updates. It is started as ``soffice.bin`` itself (the ``soffice`` script would need a
shell, which a worker may not run), with its single-instance pipe in the conversion's own
directory (PIPE_DIRECTORY). Whatever PDF it writes is untrusted too and goes through the PDF rebuild (or
rasteriser) like a PDF from the internet would.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Finding, Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.detect import detect
from sanitizers.errors import SanitizeError
from sanitizers.pdf import PdfImage, PdfRebuild
from sanitizers.types import TYPES

CONVERTIBLE = frozenset(
    {"docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "doc", "xls", "ppt", "rtf"}
    | {"odt", "ods", "odp", "fodt", "fods", "fodp"}
)
SOFFICE_NAMES = ("soffice", "libreoffice")
_KILL_GRACE_SECONDS = 2.0
_RESTART_REQUESTED = 81  # soffice.bin's exit status after it set up a new profile: run it again
_PR_SET_PDEATHSIG = 1
#: Where LibreOffice makes its single-instance pipe: its working directory, named relatively
#: because a socket's path may not exceed 107 bytes and a spool's work directory can be deep.
PIPE_DIRECTORY = "."

# Macros never run (level 3 = "very high", execution disabled outright, Basic never), no
# plug-ins; links to other files or URLs are never updated while loading (Writer: 0 = never;
# Calc: 1 = never), nor are Writer's fields; Calc never recalculates on load, so a formula
# that calls out (WEBSERVICE) is shown with the value the file carries.  What actually stops
# a linked (not embedded) picture from being fetched is BlockUntrustedRefererLinks: without
# it LibreOffice asks the picture's server for it (tests/sanitizers/test_convert.py listens).
_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="OfficeBasic" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="ExecutePlugins" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Field" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>1</value></prop></item>
</oor:items>
"""


def soffice_path() -> str | None:
    """LibreOffice's own program (``soffice.bin``, beside the ``soffice`` launcher script)."""
    launcher = next((path for name in SOFFICE_NAMES if (path := shutil.which(name))), None)
    if launcher is None:
        return None
    program = Path(os.path.realpath(launcher)).with_name("soffice.bin")
    return str(program) if program.is_file() else None


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
            f"-env:UserInstallation={profile.as_uri()}", f"-env:OSL_SOCKET_PATH={PIPE_DIRECTORY}",
            "--convert-to", "pdf", "--outdir", str(out), str(document)]  # fmt: skip
    budget = max(5.0, limits.timeout_seconds * 0.75)
    started = time.monotonic()
    for _run in range(2):  # the first run of a fresh profile ends asking for a restart
        if _run_in_own_group(argv, work, budget - (time.monotonic() - started)) != _RESTART_REQUESTED:
            break
    converted = out / "document.pdf"
    if not converted.is_file() or converted.is_symlink() or converted.stat().st_size == 0:
        raise SanitizeError("convert.failed", "LibreOffice wrote no PDF (the document may be damaged)")
    return converted


def start_converter(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """LibreOffice in its own process group, in ``cwd``, dying with the process that started it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "TMPDIR": str(cwd),
           "LANG": "ja_JP.UTF-8", "SAL_USE_VCLPLUGIN": "svp"}  # fmt: skip
    return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent)  # fmt: skip


def _run_in_own_group(argv: list[str], cwd: Path, timeout: float) -> int:
    """Run LibreOffice, then kill its process group; its exit status."""
    process = start_converter(argv, cwd)
    try:
        return process.wait(max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        raise SanitizeError("convert.failed", f"LibreOffice did not finish within {timeout:.0f}s") from None
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):  # also any helper it left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_KILL_GRACE_SECONDS)
                break


def _die_with_parent() -> None:
    """In LibreOffice's process before exec: SIGKILL when the worker that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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
