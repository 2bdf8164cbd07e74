"""End to end over SMB: files copied into the inbox share the way Windows clients write them.

A real smbd exports the channel's inbox; a real daemon watches it. Clients write in chunks
with pauses, through temporary and lock names, with renames at the end, all at once. Every
file meant for the other side must be released exactly once, byte-complete: the hash the
journal took of the staged original is the hash of the bytes the client wrote. No temporary
or lock name may become a transfer.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from tests.gateway.daemon_harness import RunningGateway
from tests.gateway.invariants import GatewayDirs, entries, inbox_name, no_loss_violations, read_journal
from tests.gateway.smb_harness import SambaServer, ShareClient
from tests.sanitizers.ooxml_builders import word
from tests.sanitizers.pdf_builders import build, open_action_js

SETTLE = 1.5
PAUSE = 0.3  # between chunks of one write: more than nothing, well below SETTLE
STALL = 2 * SETTLE  # a stalled download or a slow save under a temporary name
LINGERING_LOCK = ".~lock.集計.csv#"  # LibreOffice's lock of a file it still has open
RULES = """
[channels.rules.csv]
method = "rebuild"
[channels.rules.docx]
method = "rebuild"
"""

Scenario = Callable[[ShareClient, Path], dict[str, bytes]]


def noise_png(side: int) -> bytes:
    """A photo-like PNG that compresses badly, so it arrives in many chunks."""
    buffer = io.BytesIO()
    Image.effect_noise((side, side), 80).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def explorer_copy(client: ShareClient, sources: Path) -> dict[str, bytes]:
    """Explorer sets the final size first, writes the bytes, then restores the source's mtime."""
    photo = noise_png(300)
    roster = "氏名,所属,内線\r\n".encode("cp932") + "".join(
        f"職員{i},総務課,{1000 + i}\r\n" for i in range(400)
    ).encode("cp932")
    for name, data in (("写真 001.png", photo), ("名簿.csv", roster)):
        client.write_slowly(name, data, chunk=32 * 1024, pause=PAUSE, preallocate=True)
        client.set_mtime(name, time.time() - 30 * 86400)
    return {"写真 001.png": photo, "名簿.csv": roster}


def office_save(client: ShareClient, sources: Path) -> dict[str, bytes]:
    """Word: owner file while open; Save As through a temp name; Ctrl+S swaps via a backup."""
    first = word(("議事録 第一版",)).write(sources / "first.docx").read_bytes()
    second = word(("議事録 第二版 修正済み",)).write(sources / "second.docx").read_bytes()
    with client.held_open("~$議事録.docx", b"\x0bMukai Taro".ljust(162, b"\x00")):
        client.write_slowly("~WRD0000.tmp", first, chunk=len(first) // 2 + 1, pause=STALL)
        client.rename("~WRD0000.tmp", "議事録.docx")
        client.write_slowly("~WRL0001.tmp", second, chunk=len(second), pause=0)
        client.rename("議事録.docx", "~WRL0002.tmp")
        client.rename("~WRL0001.tmp", "議事録.docx")
        client.remove("~WRL0002.tmp")
        time.sleep(STALL)  # the document stays open: its owner file must not be taken meanwhile
    client.remove("~$議事録.docx")
    return {"議事録.docx": second}


def part_download(client: ShareClient, sources: Path) -> dict[str, bytes]:
    """A browser download that stalls half-way, renamed from .part once complete."""
    report = build(sources / "report.pdf", open_action_js).read_bytes()
    half = len(report) // 2
    client.write_slowly("report.pdf.part", report, chunk=half, pause=STALL)
    client.rename("report.pdf.part", "report.pdf")
    return {"report.pdf": report}


def folder_copy(client: ShareClient, sources: Path) -> dict[str, bytes]:
    """A folder dragged in: folders first, then the files inside them."""
    minutes = "令和8年度 第3回 会議の議事録\r\n出席者: 10名\r\n".encode("cp932") * 200
    quote = "品目,数量,単価\r\nコピー用紙,10,450\r\n".encode("cp932")
    figure = noise_png(120)
    client.makedirs("案件/2026")
    files = {"案件/2026/議事録.txt": minutes, "案件/見積.csv": quote, "案件/2026/図.png": figure}
    for name, data in files.items():
        client.write_slowly(name, data, chunk=8 * 1024, pause=PAUSE)
    return files


def slow_big_file(client: ShareClient, sources: Path) -> dict[str, bytes]:
    """A few MB over a slow link, under a LibreOffice lock that stays (the file is still open)."""
    rows = "".join(f"{i},支所{i % 40},{i * 37 % 100_000},備考なし\r\n" for i in range(90_000))
    table = "番号,支所,金額,備考\r\n".encode("cp932") + rows.encode("cp932")
    client.write_slowly(LINGERING_LOCK, b"Mukai Taro,mukai,PC-01,28.11.2026 09:00,file:///C:/Users/mukai;",
                        chunk=1024, pause=0)  # fmt: skip
    client.write_slowly("集計.csv", table, chunk=len(table) // 12 + 1, pause=PAUSE)
    return {"集計.csv": table}


def stalled_copy(client: ShareClient, sources: Path) -> dict[str, bytes]:
    """A copy over a slow VPN that stalls, handle open, long enough for a rescan to find the
    file and for it to sit still past the settle time."""
    notice = "住民説明会のお知らせ\r\n".encode("cp932") * 3000
    client.write_slowly("お知らせ.txt", notice, chunk=len(notice) // 2 + 1, pause=2 * STALL)
    return {"お知らせ.txt": notice}


SCENARIOS: tuple[Scenario, ...] = (
    explorer_copy, office_save, part_download, folder_copy, slow_big_file, stalled_copy
)  # fmt: skip


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def finished(gateway: RunningGateway) -> int:
    return sum(row["state"] in ("released", "rejected") for row in read_journal(gateway.spool)[0])


def test_windows_style_copies_over_smb_are_released_once_and_complete(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (tmp_path / "gateway").mkdir()
    gateway = RunningGateway(tmp_path / "gateway", settle=SETTLE, rescan=2.0, channel_extra=RULES)
    gateway.inbox.mkdir()
    with SambaServer(tmp_path / "samba", gateway.inbox) as samba, gateway:
        client = samba.client()
        with ThreadPoolExecutor(len(SCENARIOS)) as pool:
            futures = [pool.submit(scenario, client, sources) for scenario in SCENARIOS]
            expected = {name: data for future in futures for name, data in future.result().items()}
        gateway.wait_for(
            lambda: finished(gateway) >= len(expected), 60, f"{len(expected)} finished transfers"
        )
        time.sleep(SETTLE + 2.0)  # a late event or rescan must not bring in anything more
        # the lock of a file still open in LibreOffice is left alone for as long as it exists
        assert entries(gateway.inbox) == [gateway.inbox / LINGERING_LOCK]
        client.remove(LINGERING_LOCK)

    # one transfer per intended file and none for a temporary or lock name, each released once
    dirs = GatewayDirs(gateway.spool, gateway.inbox, gateway.outbox, gateway.rejected)
    assert no_loss_violations(dirs, dict.fromkeys(expected, "released")) == []
    for row in read_journal(gateway.spool)[0]:
        name = inbox_name(row)
        # what was staged is exactly what the client wrote: no partial file was taken
        assert (row["size_in"], row["sha256_in"]) == (len(expected[name]), sha256(expected[name])), name
        assert row["path_out"] == str(gateway.outbox / name)  # type-preserving rebuilds keep the name
    assert b"JavaScript" not in (gateway.outbox / "report.pdf").read_bytes()
