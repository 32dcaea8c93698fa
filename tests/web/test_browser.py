"""The dashboard in a real browser (Debian's Chromium via Playwright) against `ipfs-kit serve`.

Never downloads a browser: Chromium must be at /usr/bin/chromium (installed by
scripts/test as a Debian package). On failure a screenshot of the page is
saved under test-artifacts/.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (install the Debian chromium package)")
        pytest.skip(f"{CHROMIUM} is not installed")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def page_session(browser, name: str):
    """A fresh browser context; console errors fail the test; a screenshot on failure."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page, errors
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            raise
    finally:
        context.close()


def login(page, server, token: str, target: str = "/overview") -> None:
    page.goto(server.url + target)
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("#login-button")
    page.wait_for_url(re.compile(re.escape(server.url + target) + r"(\?.*)?$"))


def wait_ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']")


def counter(page, name: str) -> float:
    return float(page.get_attribute(f"[data-counter='{name}']", "data-value"))


def test_admin_adds_content_sees_widgets_charts_runs_wizard_and_audit(browser, server, tmp_path):
    upload = tmp_path / "report.txt"
    upload.write_bytes(b"quarterly numbers\n" * 1000)
    with page_session(browser, "admin-flow") as (page, errors):
        login(page, server, server.tokens.admin)
        wait_ready(page)
        assert page.inner_text("#whoami") == "alice"
        assert counter(page, "pins") == 0

        # Add content through the content page.
        page.click("nav >> text=Content")
        wait_ready(page)
        page.set_input_files("#add-file", str(upload))
        page.click("#add-form button[type=submit]")
        cid = page.wait_for_selector("#added-cid").inner_text()
        assert cid.startswith("Qm")
        page.wait_for_selector(f"#pins-table tr[data-cid='{cid}']")

        # The overview's widgets now show the real numbers (widget data is
        # cached for its refresh interval, so wait for the live refresh).
        page.click("nav >> text=Overview")
        wait_ready(page)
        page.wait_for_selector("[data-counter='pins'][data-value='1']", timeout=12_000)
        assert counter(page, "bytes") > 18_000
        assert counter(page, "blocks") == 1
        recent = page.inner_text("#widget-recent_operations")
        assert "content.add" in recent
        page.wait_for_selector("#widget-storage[data-updated-at]")
        first = page.get_attribute("#widget-operation_counts", "data-updated-at")
        # live refresh on the widget's own interval (5 s)
        page.wait_for_selector(f"#widget-operation_counts:not([data-updated-at='{first}'])", timeout=12_000)

        # Open a chart: latency and throughput on the performance page.
        page.click("nav >> text=Performance")
        wait_ready(page)
        page.wait_for_selector("#chart-latency[data-points]")
        assert int(page.get_attribute("#chart-latency", "data-points")) > 0
        assert page.get_attribute("#chart-latency", "data-chart-type") == "bar"
        assert "content.add" in page.inner_text("#perf-ops")

        # Run the backend wizard to completion, with one invalid answer on the way.
        page.click("nav >> text=Wizards")
        wait_ready(page)
        page.click("[data-wizard='backend_setup']")
        page.wait_for_selector("#wizard-step-title[data-step='backend']")
        page.fill("[name=name]", "archive")
        page.select_option("[name=type]", "s3")
        page.click("#wizard-next")
        page.wait_for_selector("#wizard-step-title[data-step='connection']")
        page.fill("[name=bucket]", "Not_A_Bucket")
        page.click("#wizard-next")
        assert "3-63 lowercase" in page.wait_for_selector("[data-field-error='bucket']").inner_text()
        page.fill("[name=bucket]", "archive-bucket")
        page.click("#wizard-next")
        page.wait_for_selector("#wizard-step-title[data-step='credentials']")
        page.click("#wizard-back")
        page.wait_for_selector("#wizard-step-title[data-step='connection']")
        assert page.input_value("[name=bucket]") == "archive-bucket"
        page.click("#wizard-next")
        page.wait_for_selector("#wizard-step-title[data-step='credentials']")
        page.click("#wizard-next")
        page.wait_for_selector("#wizard-step-title[data-step='options']")
        page.check("[name=replicate]")
        page.click("#wizard-next")
        page.wait_for_selector("#wizard-step-title[data-step='review']")
        assert "archive-bucket" in page.inner_text("#wizard-summary")
        page.click("#wizard-next")
        assert page.wait_for_selector("#wizard-result").inner_text() == "Configuration applied."
        assert "backends.archive" in page.inner_text("#wizard-panel")

        # ...and see the config change in the audit explorer.
        page.click("#wizard-audit-link")
        page.wait_for_selector("#event-detail[data-event-id]")
        assert page.inner_text("[data-field='event_type']") == "config"
        assert page.inner_text("#event-detail h2") == "config.change"
        assert "archive-bucket" in page.inner_text("#event-details")
        assert page.locator("#events-table tr[data-action='config.change']").count() == 1
        assert not errors, errors

    saved = (server.home / "config.json").read_text()
    assert '"archive-bucket"' in saved


def test_reader_cannot_reach_admin_pages_or_api(browser, server):
    with page_session(browser, "reader-flow") as (page, errors):
        login(page, server, server.tokens.reader)
        wait_ready(page)
        nav = page.inner_text("nav")
        assert "Overview" in nav and "Wizards" not in nav and "Audit" not in nav
        response = page.goto(server.url + "/wizards")
        assert response.status == 403
        assert "needs the admin role" in page.inner_text("#error-message")
        api = page.evaluate("""async () => {
            const r = await fetch('/api/wizards/backend_setup/apply', {method: 'POST',
                headers: {'Content-Type': 'application/json'}, body: '{}'});
            return [r.status, await r.json()];
        }""")
        assert api[0] == 403 and "needs the admin role" in api[1]["error"]
        assert page.goto(server.url + "/api/audit/events").status == 403


def test_bad_token_stays_on_login(browser, server):
    with page_session(browser, "bad-login") as (page, _errors):
        page.goto(server.url + "/overview")
        page.fill("#token", "ik_not-a-real-token")
        page.click("#login-button")
        assert "invalid API token" in page.wait_for_selector("#login-error").inner_text()
