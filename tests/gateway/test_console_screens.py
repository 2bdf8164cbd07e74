"""Every page of the console in a real headless Chromium, in Japanese and in English, saved as
screenshots (tests/artifacts/console/, kept by CI, not committed), and the confirmation an
approver must pass before an executable original is handed back."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ROOT
from tests.gateway.console_env import PASSWORD, ConsoleEnv, many_audit_entries, many_transfers
from tests.gateway.test_console_browser import chromium
from tests.gateway.test_http import free_port

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "tests" / "artifacts" / "console"


class Served:
    """The console of a ConsoleEnv on a loopback port, served from a thread of its own."""

    def __init__(self, env: ConsoleEnv) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(env.console().app())
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


def populate(env: ConsoleEnv) -> dict[str, str]:
    """A journal with something on every page: findings, refusals, a held file, requests, many rows."""
    released = env.finished_transfer(b"%PDF-1.7 original", name="令和6年度_事業計画.pdf")
    findings = [
        {"construct": "pdf.javascript", "action": "removed", "count": 3, "location": "document catalog"},
        {"construct": "pdf.embedded_file", "action": "removed", "count": 1, "location": "page 2"},
        {"construct": "pdf.metadata", "action": "removed", "count": 1, "location": "document info"},
        {"construct": "image.gps", "action": "removed", "count": 1, "location": "page 1"},
    ]
    env.journal.update(released, file_type="pdf", method="rebuild", findings=json.dumps(findings),
                       size_in=2_621_440, size_out=1_048_576,
                       path_out=str(env.outbox / "企画課" / "令和6年度_事業計画.pdf"))  # fmt: skip
    refused = env.finished_transfer(b"MZ setup", name="setup.exe", reason_code="policy.reject")
    env.journal.update(refused, file_type="exe", reason_message="the rule for exe is reject", size_in=734_003,
                       path_out=str(env.rejected / "setup.exe.reason.txt"))  # fmt: skip
    broken = env.finished_transfer(b"%PDF-1.4 broken", name="見積書.pdf", reason_code="pdf.malformed")
    env.journal.update(broken, file_type="pdf", size_in=48_213, reason_message=(
        f"qpdf cannot open it: {env.root}/spool/incoming/{broken}/見積書.pdf: root of pages tree has no /Kids array"))  # fmt: skip
    env.held_transfer(b"clean text", name="議事録.txt")
    many_transfers(env, 130, "photo-{:03d}.jpg", age=86400)
    many_audit_entries(env, 110, "release.request", age=7200)
    env.releases.request(refused, "op", "業者から届いたインストーラが必要", "127.0.0.1")
    env.releases.request(released, "op", "元のレイアウトを確認したい", "127.0.0.1")
    return {"released": released, "refused": refused, "broken": broken}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    env = ConsoleEnv(tmp_path_factory.mktemp("screens"))
    env.add_users(op="operator", boss="approver", root="admin")
    ids = populate(env)
    with Served(env) as served:
        yield served, ids


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    with chromium(
        tmp_path_factory.mktemp("chromium"), "--window-size=1280,900", "--lang=ja", "--hide-scrollbars"
    ) as driver:
        yield driver


@pytest.fixture(scope="module")
def screenshots(request: pytest.FixtureRequest) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"console screenshots: {SCREENSHOTS}")
    return SCREENSHOTS


def save(driver: webdriver.Chrome, folder: Path, name: str, *, whole: bool = True) -> None:
    """The whole page, or (for a list of a hundred rows) what fits the window."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": whole})
    (folder / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def log_in(driver: webdriver.Chrome, base: str, user: str, lang: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/login?lang={lang}")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.ID, "who")))


def placeholder_fits(driver: webdriver.Chrome, selector: str) -> bool:
    """Whether an input's placeholder fits its box, measured in the input's own font."""
    return bool(
        driver.execute_script(
            """const input = document.querySelector(arguments[0]);
            const style = getComputedStyle(input);
            const context = document.createElement('canvas').getContext('2d');
            context.font = style.font;
            const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return context.measureText(input.placeholder).width <= room;""",
            selector,
        )
    )


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_in_each_language(
    site: tuple[Served, dict[str, str]], browser: webdriver.Chrome, screenshots: Path, lang: str
) -> None:
    served, ids = site
    browser.delete_all_cookies()
    browser.get(f"{served.base}/login?lang={lang}")
    save(browser, screenshots, f"{lang}-login")
    log_in(browser, served.base, "root", lang)
    pages = {
        "dashboard": "/",
        "transfers": "/transfers",
        "transfer-released": f"/transfers/{ids['released']}",
        "transfer-rejected": f"/transfers/{ids['refused']}",
        "transfer-damaged": f"/transfers/{ids['broken']}",
        "approvals": "/approvals",
        "audit": "/audit",
    }
    for name, path in pages.items():
        browser.get(f"{served.base}{path}")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
        save(browser, screenshots, f"{lang}-{name}", whole=name not in ("transfers", "audit"))
        if name == "approvals":
            assert placeholder_fits(browser, "input.note")
    browser.get(f"{served.base}/transfers/{ids['released']}")
    findings = browser.find_element(By.ID, "findings").text
    assert ("JavaScript" in findings) and (("削除" if lang == "ja" else "removed") in findings)
    assert "2.5 MB" in browser.find_element(By.ID, "size-in").text
    browser.get(f"{served.base}/transfers")
    assert (
        "全 134 件中 1〜100 件を表示" if lang == "ja" else "Showing 1–100 of 134"
    ) in browser.find_element(By.ID, "pager").text
    # the confirmation, then back without approving
    browser.get(f"{served.base}/approvals")
    log_in(browser, served.base, "boss", lang)
    browser.get(f"{served.base}/approvals")
    browser.find_element(By.CSS_SELECTOR, "#pending-requests tr .risk-executable")
    (row,) = [
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#pending-requests tbody tr")
        if "setup.exe" in r.text
    ]
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    assert (
        "exe"
        in WebDriverWait(browser, 20)
        .until(expected_conditions.presence_of_element_located((By.ID, "confirm-type")))
        .text
    )
    save(browser, screenshots, f"{lang}-confirm")
    browser.find_element(By.ID, "confirm-cancel").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url.endswith("/approvals"))


def test_an_executable_original_is_released_only_through_the_confirmation(
    site: tuple[Served, dict[str, str]], browser: webdriver.Chrome
) -> None:
    served, ids = site
    approved = served.env.approved
    log_in(browser, served.base, "boss", "ja")
    browser.get(f"{served.base}/approvals")
    (row,) = [
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#pending-requests tbody tr")
        if "setup.exe" in r.text
    ]
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    risk = WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.ID, "confirm-risk"))
    )
    assert "実行ファイル" in risk.text
    assert not approved.exists() or list(approved.iterdir()) == []  # one click released nothing
    browser.find_element(By.ID, "confirm-approve").click()
    notice = WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.ID, "notice"))
    )
    assert "承認しました" in notice.text
    assert [p.name for p in approved.iterdir()] == ["setup.exe"]
    states = {r.transfer_id: r.state for r in served.env.journal.view.release_requests()}
    assert states[ids["refused"]] == "released"
