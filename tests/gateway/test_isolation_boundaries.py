"""What workers are made of: only the parsers, never the daemon's own modules or test code."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

from gateway.isolation.provider import PRODUCTION_ENTRY_POINTS, ZygoteProvider
from tests.gateway.daemon_harness import REPOSITORY

ZYGOTE_IMPORTS = """
import json, sys
from gateway.isolation import zygote
for name in sys.argv[1:]:
    zygote._import_entry_point(name)
from gateway.isolation.preload import warm_up
warm_up()
print(json.dumps(sorted(sys.modules)))
"""
#: A worker is assumed taken over: what it has not loaded it cannot misuse.
DAEMON_ONLY = ("gateway.cli", "gateway.config", "gateway.journal", "gateway.vault", "gateway.console",
               "gateway.daemon", "gateway.transfers", "gateway.spool", "gateway.originals", "argon2",
               "cryptography", "aiohttp", "tests")  # fmt: skip


def test_the_zygote_loads_the_parsers_and_no_daemon_module() -> None:
    """The same imports as the zygote's start (gateway.isolation.zygote.main), counted."""
    loaded = json.loads(subprocess.run(
        [sys.executable, "-c", ZYGOTE_IMPORTS, *PRODUCTION_ENTRY_POINTS], capture_output=True, text=True,
        check=True, cwd=REPOSITORY,
    ).stdout)  # fmt: skip
    assert {"pikepdf", "PIL", "sanitizers.registry", "sanitizers.verification", "pyseccomp"} <= set(loaded)
    assert [m for m in loaded if m.startswith(DAEMON_ONLY)] == []


def test_a_running_zygote_has_no_crypto_library_mapped() -> None:
    async def maps() -> str:
        provider = ZygoteProvider(1)
        await provider.start()
        try:
            assert provider._zygote is not None
            return Path(f"/proc/{provider._zygote.process.pid}/maps").read_text()
        finally:
            await provider.close()

    mapped = asyncio.run(maps())
    assert "pikepdf" in mapped  # the parsers' native code is there, warm
    assert not re.search(r"cryptography|argon2|_cffi_backend", mapped)


def test_production_code_names_no_test_module() -> None:
    sources = [*(REPOSITORY / "gateway").rglob("*.py"), *(REPOSITORY / "sanitizers").rglob("*.py")]
    naming_tests = [str(p) for p in sources if re.search(r"\btests\.", p.read_text(encoding="utf-8"))]
    assert naming_tests == []
    assert PRODUCTION_ENTRY_POINTS == ("gateway.isolation.worker:sanitise", "gateway.isolation.worker:verify")
