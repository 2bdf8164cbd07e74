"""The console as staff read it, in Japanese and English: reasons and findings from the catalogues,
sizes and places as staff know them, lists in pages with counts, audit actions in words, and a
confirmation naming the type before a risky original is handed back."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from gateway.console.i18n import MESSAGES
from gateway.console.present import human_size
from tests.gateway.console_env import Browser, ConsoleEnv, many_audit_entries, many_transfers, run_console

Browsers = Callable[[], Awaitable[Browser]]
# an absolute path of the test's own folders, as a page must never show one
SERVER_PATH = re.compile(r"/(?:tmp|var|srv|work|home)/\S+")


@pytest.fixture
def env(tmp_path: Path) -> ConsoleEnv:
    console_env = ConsoleEnv(tmp_path)
    console_env.add_users(op="operator", boss="approver", root="admin")
    return console_env


def text_of(page: str) -> str:
    """The page's visible text, tags dropped, on one line."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def released_pdf(env: ConsoleEnv) -> str:
    """A released transfer with findings, a size and an output in a subfolder of the outbox."""
    transfer_id = env.finished_transfer(b"%PDF-1.7 the original", name="keikaku.pdf")
    findings = [
        {"construct": "pdf.launch", "action": "removed", "count": 2, "location": "page 1"},
        {"construct": "method.pdf.malformed", "action": "fell_back", "count": 1,
         "location": f"qpdf cannot open it: {env.root}/spool/incoming/{transfer_id}/keikaku.pdf: damaged"},
        {"construct": "pdf.not_yet_catalogued", "action": "removed", "count": 1, "location": None},
    ]  # fmt: skip
    env.journal.update(transfer_id, file_type="pdf", findings=json.dumps(findings), size_in=1_572_864,
                       size_out=2_500, path_out=str(env.outbox / "2024" / "keikaku.pdf"))  # fmt: skip
    return transfer_id


def refused_exe(env: ConsoleEnv, name: str = "setup.exe", file_type: str | None = "exe") -> str:
    transfer_id = env.finished_transfer(b"MZ" + name.encode(), name=name, reason_code="policy.reject")
    env.journal.update(transfer_id, file_type=file_type, reason_message=f"the rule for {file_type} is reject",
                       path_out=str(env.rejected / f"{name}.reason.txt"))  # fmt: skip
    return transfer_id


def test_a_transfer_in_japanese_then_english_reads_from_the_catalogues(env: ConsoleEnv) -> None:
    released, refused = released_pdf(env), refused_exe(env)
    pages: dict[str, dict[str, str]] = {}

    async def scenario(browser: Browsers) -> None:
        op = await browser()
        await op.login("op")
        for lang in ("ja", "en"):
            await op.get(f"/?lang={lang}")
            pages[lang] = {path: text_of((await op.get(path))[1])
                           for path in (f"/transfers/{released}", f"/transfers/{refused}", "/transfers", "/")}  # fmt: skip

    run_console(env, scenario)
    ja, en = pages["ja"], pages["en"]
    detail_ja, detail_en = ja[f"/transfers/{released}"], en[f"/transfers/{released}"]
    assert "プログラムの起動 pdf.launch 削除 2 page 1" in detail_ja
    assert "Program launch pdf.launch removed 2 page 1" in detail_en
    assert "最初の方式で無害化できなかった理由: PDFの構造が壊れていて修復できません。" in detail_ja
    assert "別の方式に切り替え 1 qpdf cannot open it: …: damaged" in detail_ja
    assert "pdf.not_yet_catalogued" in detail_en  # a construct the catalogue lacks shows as its code
    assert "1.5 MB" in detail_ja and "2.4 KB" in detail_en
    assert "test › 送信フォルダ › 2024/keikaku.pdf" in detail_ja
    assert "test › outbox › 2024/keikaku.pdf" in detail_en
    refusal_ja, refusal_en = ja[f"/transfers/{refused}"], en[f"/transfers/{refused}"]
    assert (
        "この形式のファイル（実行ファイル、スクリプト等）は受け付けない設定です。 policy.reject" in refusal_ja
    )
    assert "PDFなど別の形式で送ってもらってください。" in refusal_ja
    assert "This file type (executables, scripts, ...) is never released. policy.reject" in refusal_en
    assert "test › 拒否フォルダ › setup.exe.reason.txt" in refusal_ja
    for lang, page in (("ja", ja["/transfers"]), ("en", en["/transfers"]), ("ja", ja["/"])):
        assert ("受け付けない設定です" if lang == "ja" else "is never released") in page
    for page in [*ja.values(), *en.values()]:
        assert SERVER_PATH.search(page) is None, SERVER_PATH.search(page)


def test_the_transfer_list_pages_through_every_match_and_says_how_many(env: ConsoleEnv) -> None:
    many_transfers(env, 230, "file-{:04d}.txt")
    pages: dict[str, str] = {}

    async def scenario(browser: Browsers) -> None:
        viewer = await browser()
        await viewer.login("op")
        for path in ("/transfers", "/transfers?page=3&channel=test", "/transfers?page=99&lang=en",
                     "/transfers?name=file-022&lang=en"):  # fmt: skip
            pages[path] = (await viewer.get(path))[1]

    run_console(env, scenario)
    first = pages["/transfers"]
    assert "全 230 件中 1〜100 件を表示" in first and first.count('href="/transfers/t-many-') == 100
    assert 'href="/transfers?page=2"' in first and "file-0000.txt" in first and "file-0100.txt" not in first
    third = pages["/transfers?page=3&channel=test"]
    assert "全 230 件中 201〜230 件を表示" in third and "file-0229.txt" in third
    assert 'href="/transfers?channel=test&amp;page=2"' in third and "page=4" not in third
    assert "Showing 201–230 of 230" in pages["/transfers?page=99&lang=en"]  # past the end: the last page
    assert "Showing 1–10 of 10" in pages["/transfers?name=file-022&lang=en"]


def test_audit_actions_are_named_in_words_with_their_code_and_paged(env: ConsoleEnv) -> None:
    many_audit_entries(env, 120, "release.request", age=60)
    pages: dict[str, str] = {}

    async def scenario(browser: Browsers) -> None:
        root = await browser()
        await root.login("root")
        pages["ja"] = text_of((await root.get("/audit"))[1])
        pages["en"] = text_of((await root.get("/audit?lang=en&page=2"))[1])

    run_console(env, scenario)
    total = len(env.journal.view.audit_entries(limit=1000))  # the 120, the users added, root's login
    assert total == 124
    assert f"全 {total} 件中 1〜100 件を表示" in pages["ja"]
    assert "ログイン login.ok" in pages["ja"] and "ユーザーを追加 user.add" in pages["ja"]
    assert (
        f"Showing 101–{total} of {total}" in pages["en"]
        and "original requested release.request" in pages["en"]
    )


RISKY = [("setup.exe", "exe", "exe (Windows executable)"), ("budget.xlsm", "xlsm", "xlsm (Excel workbook with macros)"),
         ("photos.zip", "zip", "zip (ZIP archive)"), ("invoice.pdf", None, "形式不明")]  # fmt: skip


def test_a_risky_original_is_approved_only_once_its_type_is_confirmed(env: ConsoleEnv) -> None:
    """An executable, a macro document, an archive, and a file whose type was never determined."""
    transfers = {
        refused_exe(env, name, file_type): (name, file_type, named) for name, file_type, named in RISKY
    }
    for transfer_id in transfers:
        env.releases.request(transfer_id, "op", "業務で必要", "127.0.0.1")
    requests = {r.transfer_id: r.id for r in env.journal.view.release_requests()}

    async def scenario(browser: Browsers) -> None:
        boss = await browser()
        await boss.login("boss")
        _, approvals = await boss.get("/approvals")
        assert approvals.count('class="risk risk-') == len(RISKY)  # flagged in the list before anyone clicks
        for transfer_id, (_, file_type, named) in transfers.items():
            approve, token = f"/requests/{requests[transfer_id]}/approve", file_type or "unknown"
            response, page = await boss.post(approve)
            assert response.status == 200 and 'id="confirm-approve"' in page and named in text_of(page)
            assert f'name="confirm" value="{token}"' in page
            for wrong in ("pdf", "", "unknown" if file_type else "exe"):
                _, page = await boss.post(approve, {"confirm": wrong})
                assert 'id="confirm-approve"' in page
            assert {r.state for r in env.journal.view.release_requests()} == {"pending"}
            assert not env.approved.exists() or list(env.approved.iterdir()) == []
        for transfer_id, (_, file_type, _) in transfers.items():
            response, _ = await boss.post(
                f"/requests/{requests[transfer_id]}/approve", {"confirm": file_type or "unknown"}
            )
            assert response.status == 303

    run_console(env, scenario)
    assert {r.state for r in env.journal.view.release_requests()} == {"released"}
    assert sorted(p.name for p in env.approved.iterdir()) == sorted(name for name, _, _ in RISKY)


def test_the_confirmation_speaks_english_and_a_plain_original_needs_none(env: ConsoleEnv) -> None:
    risky = refused_exe(env)
    plain = env.finished_transfer(b"plain text", name="memo.txt")
    for transfer_id in (risky, plain):
        env.releases.request(transfer_id, "op", "needed", "127.0.0.1")
    by_transfer = {r.transfer_id: r.id for r in env.journal.view.release_requests()}

    async def scenario(browser: Browsers) -> None:
        boss = await browser()
        await boss.login("boss")
        await boss.get("/approvals?lang=en")
        _, page = await boss.post(f"/requests/{by_transfer[risky]}/approve")
        assert "This original is an executable" in page and "Approve this original" in page
        response, _ = await boss.post(f"/requests/{by_transfer[plain]}/approve")
        assert response.status == 303

    run_console(env, scenario)
    states = {r.transfer_id: r.state for r in env.journal.view.release_requests()}
    assert states == {risky: "pending", plain: "released"}


def test_every_key_a_template_or_the_app_asks_for_is_in_both_languages() -> None:
    console = Path(__file__).parents[2] / "gateway" / "console"
    sources = [p.read_text(encoding="utf-8") for p in [*console.glob("templates/*.html"), console / "app.py"]]
    keys = {key for text in sources for key in re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]*)["']""", text)}
    # a key completed in the template ("state." ~ tr.state) needs at least one key of that prefix
    missing = [k for k in keys if k not in MESSAGES and not any(m.startswith(k) for m in MESSAGES)]
    assert len(keys) > 100 and missing == []
    assert all(ja and en for ja, en in MESSAGES.values())


def test_every_audit_action_the_gateway_records_has_words() -> None:
    """Actions are the second argument of AuditEntry(actor, action, ...) and of the console's
    audit(request, action, ...), or literals assigned to `action` (the users-file changes)."""
    gateway = Path(__file__).parents[2] / "gateway"
    found: list[ast.AST] = []
    for path in gateway.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(called, "id", getattr(called, "attr", "")) in (
                "AuditEntry",
                "audit",
            ):
                found += node.args[1:2]
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", "") == "action" for t in ast.walk(node.targets[0])
            ):
                found.append(node.value)
    literals = {c.value for node in found for c in ast.walk(node) if isinstance(c, ast.Constant)}
    # an f-string's fragment ("user." of the CLI's own log line) is not an action of the audit table
    actions = {v for v in literals if isinstance(v, str) and re.fullmatch(r"[a-z]+(\.[a-z_]+)?", v)}
    assert {"login.ok", "logout", "release.placed", "user.passwd", "transfer.deny"} <= actions
    assert sorted(a for a in actions if f"audit_action.{a}" not in MESSAGES) == []


def test_sizes_read_as_explorer_shows_them() -> None:
    assert [human_size(n, "ja") for n in (0, 1023, 1536, 1_572_864, 150 * 1024**2, 5 * 1024**4)] == [
        "0 バイト", "1023 バイト", "1.5 KB", "1.5 MB", "150 MB", "5.0 TB"
    ]  # fmt: skip
    assert human_size(None, "en") == "" and human_size(12, "en") == "12 bytes"
