"""The console in a real headless Chromium against the real daemon: login, CSRF, four-eyes approval, roles."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from gateway.journal import FINAL_STATES, JournalView, Transfer
from tests.gateway.daemon_harness import MUKAIKA, RunningGateway, png_bytes
from tests.gateway.test_http import free_port

pytestmark = pytest.mark.slow

PASSWORD = "browser-test-password"
USERS = {"viewer": "viewer", "op": "operator", "boss": "approver", "boss2": "approver"}
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip


class Site:
    """The running daemon with its console, and ways to look at what it did."""

    def __init__(self, gateway: RunningGateway, port: int) -> None:
        self.gateway = gateway
        self.base = f"http://127.0.0.1:{port}"
        self.outbound = gateway.root / "outbound"
        self.colour = 0

    def view(self) -> JournalView:
        return JournalView.open_read_only(self.gateway.spool / "journal.sqlite")

    def transfer(self, name: str) -> Transfer | None:
        view = self.view()
        try:
            found = view.search(name=name)
        finally:
            view.close()
        return found[0] if found else None

    def drop(self, inbox: Path, name: str, state: str) -> tuple[Transfer, bytes]:
        """Drop a unique PNG and wait until its transfer reaches ``state``."""
        self.colour += 1
        data = png_bytes((self.colour, 80, 160), text="camera metadata")
        (inbox / name).write_bytes(data)
        self.gateway.wait_for(
            lambda: (t := self.transfer(name)) is not None and t.state == state, 60, f"{name} {state}"
        )
        transfer = self.transfer(name)
        assert transfer is not None
        if state in FINAL_STATES:
            self.wait_for_original(transfer.id)
        return transfer, data

    def wait_for_original(self, transfer_id: str) -> None:
        """A transfer's original is kept a moment after its final state is committed."""
        original = self.gateway.spool / "originals" / transfer_id
        self.gateway.wait_for(original.exists, 30, f"the original of {transfer_id}")

    def requests(self, transfer_id: str) -> list[tuple[str, str]]:
        view = self.view()
        try:
            return [(r.state, r.requested_by) for r in view.release_requests(transfer_id=transfer_id)]
        finally:
            view.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("console")
    port = free_port()
    outbound = root / "outbound"
    console = f'\n[console]\nlisten = "127.0.0.1:{port}"\nusers_file = "{root / "users.toml"}"\n'
    second_channel = f"""approved = "{root / "approved"}"
[[channels]]
name = "outbound"
inbox = "{outbound / "in"}"
outbox = "{outbound / "out"}"
rejected = "{outbound / "rejected"}"
approved = "{outbound / "approved"}"
approval = "required"
"""
    gateway = RunningGateway(root, extra=console, channel_extra=second_channel)
    for folder in (root / "approved", *(outbound / name for name in ("in", "out", "rejected", "approved"))):
        folder.mkdir(parents=True)  # folders a config names must exist
    for name, role in USERS.items():
        subprocess.run([str(MUKAIKA), "user", "add", name, "--role", role, "--password-stdin", "--config",
                        str(gateway.config)], input=f"{PASSWORD}\n", text=True, check=True, capture_output=True)  # fmt: skip
    with gateway:
        yield Site(gateway, port)


@contextmanager
def chromium(profile_parent: Path, *flags: str) -> Iterator[webdriver.Chrome]:
    """Debian's Chromium, headless, with a profile of its own under ``profile_parent``."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*CHROME_FLAGS, *flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=profile_parent)}")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path) as driver:
        yield driver


def log_in(driver: webdriver.Chrome, site: Site, user: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(f"{site.base}/login")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(
        lambda d: d.find_elements(By.ID, "who") or d.find_elements(By.ID, "problem")
    )


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return str(
        WebDriverWait(driver, 20)
        .until(expected_conditions.presence_of_element_located((By.ID, element_id)))
        .text
    )


def test_login_with_a_secure_session_cookie_and_a_wrong_password_refused(
    site: Site, browser: webdriver.Chrome
) -> None:
    log_in(browser, site, "op", "not the password")
    assert "パスワードが違います" in text_of(browser, "problem")
    assert browser.get_cookie("mukaika_session") is None
    log_in(browser, site, "op")
    assert "op" in text_of(browser, "who") and browser.title.startswith("無害化ゲートウェイ")
    cookie = browser.get_cookie("mukaika_session")
    assert cookie is not None and cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.find_element(By.ID, "lang-switch").click()
    assert "Signed in as op" in text_of(browser, "who")
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url.endswith("/login"))
    browser.get(f"{site.base}/transfers")
    assert browser.current_url.endswith("/login")


def test_a_post_without_the_csrf_token_is_refused(site: Site, browser: webdriver.Chrome) -> None:
    transfer, _ = site.drop(site.gateway.inbox, "csrf.png", "released")
    log_in(browser, site, "op")
    browser.get(f"{site.base}/transfers/{transfer.id}")
    browser.execute_script("document.querySelector('#request-form input[name=csrf_token]').remove()")
    browser.find_element(By.ID, "request-reason").send_keys("needs the original")
    browser.find_element(By.ID, "request-submit").click()
    assert "確認トークン" in text_of(browser, "error")
    assert site.requests(transfer.id) == []


def test_held_transfer_and_original_released_through_request_and_approval(
    site: Site, browser: webdriver.Chrome
) -> None:
    outbox, approved = site.outbound / "out", site.outbound / "approved"
    transfer, original = site.drop(site.outbound / "in", "keikaku.png", "awaiting_approval")
    assert site.gateway.files(outbox) == []  # held: nothing leaves before an approver says so

    log_in(browser, site, "boss")
    browser.get(f"{site.base}/approvals")
    browser.find_element(By.ID, f"release-{transfer.id}").click()
    assert "承認しました" in text_of(browser, "notice")
    site.gateway.wait_for(lambda: site.gateway.files(outbox) == ["keikaku.png"], 30, "the approved release")
    site.wait_for_original(transfer.id)
    assert (outbox / "keikaku.png").read_bytes() != original  # the sanitised copy, not the original

    log_in(browser, site, "op")
    browser.get(f"{site.base}/transfers/{transfer.id}")
    browser.find_element(By.ID, "request-reason").send_keys("カメラ情報が業務に必要")
    browser.find_element(By.ID, "request-submit").click()
    assert "依頼しました" in text_of(browser, "notice")
    assert site.requests(transfer.id) == [("pending", "op")]
    assert not approved.exists() or site.gateway.files(approved) == []

    log_in(browser, site, "boss2")
    browser.get(f"{site.base}/approvals")
    browser.find_element(By.CSS_SELECTOR, "#pending-requests button.approve").click()
    assert "原本を承認済みフォルダに置きました" in text_of(browser, "notice")
    assert site.requests(transfer.id) == [("released", "op")]
    assert (approved / "keikaku.png").read_bytes() == original
    assert site.gateway.files(outbox) == ["keikaku.png"]  # the original never goes to the outbox


def test_a_requester_cannot_approve_their_own_request(site: Site, browser: webdriver.Chrome) -> None:
    transfer, _ = site.drop(site.gateway.inbox, "own.png", "released")
    log_in(browser, site, "boss")
    browser.get(f"{site.base}/transfers/{transfer.id}")
    browser.find_element(By.ID, "request-reason").send_keys("レイアウトが崩れた")
    browser.find_element(By.ID, "request-submit").click()
    text_of(browser, "notice")
    browser.get(f"{site.base}/approvals")
    (row,) = [
        r for r in browser.find_elements(By.CSS_SELECTOR, "#pending-requests tbody tr") if "own.png" in r.text
    ]
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    assert "自分の依頼は承認・却下できません" in text_of(browser, "error")
    assert site.requests(transfer.id) == [("pending", "boss")]


def test_a_viewer_is_refused_an_approver_action(site: Site, browser: webdriver.Chrome) -> None:
    transfer, _ = site.drop(site.gateway.inbox, "viewer.png", "released")
    log_in(browser, site, "op")
    browser.get(f"{site.base}/transfers/{transfer.id}")
    browser.find_element(By.ID, "request-reason").send_keys("macro")
    browser.find_element(By.ID, "request-submit").click()
    text_of(browser, "notice")
    view = site.view()
    (request,) = view.release_requests(transfer_id=transfer.id)
    view.close()

    log_in(browser, site, "viewer")
    browser.get(f"{site.base}/approvals")
    assert browser.find_elements(By.ID, f"approve-{request.id}") == []  # no button offered
    # the viewer forges the approver's form, with their own valid CSRF token
    browser.execute_script(
        """const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        const token = document.querySelector('#logout-form input[name=csrf_token]').cloneNode();
        form.appendChild(token); document.body.appendChild(form); form.submit();""",
        f"/requests/{request.id}/approve",
    )
    assert "権限がありません" in text_of(browser, "error")
    assert site.requests(transfer.id) == [("pending", "op")]
