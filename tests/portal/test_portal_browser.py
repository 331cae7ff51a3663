"""The portal in headless Chromium: the page renders on a phone, a PDF link works, and another
account's link shows nothing. Needs Playwright (pip) and a Chromium binary (Debian `chromium`);
it is skipped, saying which is missing, only when the browser cannot be had."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.exports.story import full_story, make_client, post

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (.venv/bin/pip install 'playwright>=1.50,<2')")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(db_url, monkeypatch):
    """The app with the portal routes, served by uvicorn on loopback in a thread."""
    import uvicorn

    sync_playwright = _playwright()
    monkeypatch.setenv("BILLING_PORTAL_SECRET", "browser-test-secret")
    port = _free_port()
    monkeypatch.setenv("BILLING_PUBLIC_URL", f"http://127.0.0.1:{port}")
    client = make_client(db_url, monkeypatch)
    full_story(client)
    uv = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield client, sync_playwright
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def _link(client, account: str) -> str:
    return post(client, f"/v1/accounts/{account}/portal-link", {"ttl_minutes": 10}, expect=201)["url"]


def test_portal_in_headless_chromium(server, db_url):
    client, sync_playwright = server
    acme, globex = _link(client, "acme"), _link(client, "globex")
    ARTIFACTS.mkdir(exist_ok=True)
    engine = "pg" if db_url.startswith("postgresql") else "sqlite"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, accept_downloads=True)
            page = phone.new_page()
            response = page.goto(acme)
            assert response.status == 200
            assert page.locator("h1").inner_text() == "Acme Kft."
            rows = page.locator("#documents tbody tr")
            assert rows.count() == 4
            # On a phone the table becomes cards: no sideways scrolling.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(ARTIFACTS / f"portal-phone-{engine}.png"), full_page=True)

            invoice = page.locator('tr[data-number="INV-2026-000001"] a.pdf')
            with page.expect_response(lambda r: "/documents/INV-2026-000001.pdf" in r.url) as answer:
                try:
                    invoice.click()
                except Exception:  # a PDF may open as a download instead of a page: still a response
                    pass
            pdf = answer.value
            assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
            # Chromium's viewer stands in for the body it shows; the bytes behind the same URL:
            assert phone.request.get(pdf.url).body().startswith(b"%PDF")

            # globex's link, pointed at acme's page and acme's PDF: nothing of acme's comes back
            token = urlsplit(globex).query
            other = browser.new_page()
            for path in ("/portal/acme", "/portal/acme/documents/INV-2026-000001.pdf"):
                denied = other.goto(f"{urlsplit(acme).scheme}://{urlsplit(acme).netloc}{path}?{token}")
                assert denied.status in (403, 404)
                assert "Acme" not in other.content() and not denied.body().startswith(b"%PDF")
            assert other.goto(globex).status == 200 and "Globex Zrt." in other.content()
            desktop = browser.new_page(viewport={"width": 1280, "height": 800})
            desktop.goto(acme)
            desktop.screenshot(path=str(ARTIFACTS / f"portal-desktop-{engine}.png"), full_page=True)
        finally:
            browser.close()
