"""ClamAV on the shared corpus: EICAR inside a ZIP is caught by scanning the original."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CORPUS, require_corpus
from tests.gateway.clamd_harness import SIGNATURE, Clamd
from tests.gateway.daemon_harness import RunningGateway

require_corpus()
pytestmark = [pytest.mark.corpus, pytest.mark.slow]


@pytest.fixture
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    with Clamd(tmp_path_factory.mktemp("clamd")) as running:
        yield running


def test_eicar_in_a_zip_is_rejected_although_the_sanitiser_drops_it(clamd: Clamd, tmp_path: Path) -> None:
    with RunningGateway(tmp_path, clamav=f'socket = "{clamd.socket}"') as gateway:
        data = (CORPUS / "archive" / "eicar-kai__eicar_com.zip").read_bytes()
        (gateway.inbox / "eicar.zip").write_bytes(data)
        gateway.wait_for_outputs(released=0, rejected=1)
        reason = (gateway.rejected / "eicar.zip.reason.txt").read_text(encoding="utf-8-sig")
        # the member is an executable, so the rebuilt ZIP leaves it out: only the original has EICAR
        assert "av.infected" in reason and f"original: {SIGNATURE}" in reason
        assert gateway.files(gateway.outbox) == []
