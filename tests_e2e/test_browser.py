"""The Airflow UI's connection form for Celonis, driven in Debian's headless Chromium.

Screenshots land in e2e-artifacts/ as evidence of what a user sees.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import AirflowStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONN_ID = "celonis_ui"


@pytest.fixture(scope="module")
def page(stack: AirflowStack, artifacts: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1300})
        finally:
            browser.close()


def test_connection_form_and_test_button(page, stack: AirflowStack, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.base_url}/connections", wait_until="networkidle")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name='connection_id']").fill(CONN_ID)
    dialog.get_by_role("combobox").first.fill("Celonis")
    page.keyboard.press("Enter")

    # The relabelled standard fields, with the team-URL placeholder; schema and port hidden.
    for label in ("Team URL", "Client ID", "Client Secret"):
        assert dialog.get_by_text(label, exact=True).is_visible(), label
    assert not dialog.get_by_text("Schema", exact=True).is_visible()
    assert not dialog.get_by_text("Port", exact=True).is_visible()
    dialog.get_by_placeholder("https://<team>.<realm>.celonis.cloud").fill(stack.emulator.base_url)
    dialog.locator("input[name='login']").fill("demo-client")
    dialog.locator("input[name='password']").fill("demo-secret")
    page.screenshot(path=str(artifacts / "01-celonis-connection-form.png"), full_page=True)

    dialog.get_by_text("Extra Fields", exact=True).click()
    for label in (
        "Client authentication method",
        "Scopes override",
        "Token URL",
        "Verify TLS",
        "Request timeout (seconds)",
        "Proxies",
        "Allow plain http:// to a non-local host",
    ):
        assert dialog.get_by_text(label, exact=True).is_visible(), label
    page.screenshot(path=str(artifacts / "02-celonis-extra-fields.png"), full_page=True)
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("cell", name=CONN_ID).wait_for()

    stored = stack.api("GET", f"/connections/{CONN_ID}")
    assert stored["host"] == stack.emulator.base_url and stored["login"] == "demo-client"
    # Airflow 3.3's Test button sends Number(port), i.e. 0 for a connection without a port,
    # and its API then refuses ("host or port differs from the stored connection"). Storing
    # the port the Team URL already names (harmless for the hook) works around it.
    stack.api(
        "PATCH",
        f"/connections/{CONN_ID}",
        params={"update_mask": "port"},
        json={
            "connection_id": CONN_ID,
            "conn_type": "celonis",
            "port": int(stack.emulator.base_url.rsplit(":", 1)[1]),
        },
    )
    page.reload(wait_until="networkidle")

    page.get_by_role("button", name="Test Connection").click()
    page.get_by_text("Test Connection Successful").wait_for(timeout=30_000)
    assert page.get_by_text("Granted scopes:", exact=False).first.is_visible()
    page.screenshot(path=str(artifacts / "03-celonis-test-success.png"), full_page=True)


def test_wrong_secret_shows_the_actionable_message(page, stack: AirflowStack, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.base_url}/connections", wait_until="networkidle")
    page.get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name='password']").fill("not-the-secret")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("cell", name=CONN_ID).wait_for()
    page.get_by_role("button", name="Test Connection").click()
    page.get_by_text("Test Connection Failed").wait_for(timeout=30_000)
    message = page.get_by_text("invalid_client", exact=False).first
    assert message.is_visible()
    text = message.inner_text()
    assert "client_secret_basic" in text and "Client Secret" in text, text
    assert "not-the-secret" not in page.content()
    page.screenshot(path=str(artifacts / "04-celonis-test-wrong-secret.png"), full_page=True)
