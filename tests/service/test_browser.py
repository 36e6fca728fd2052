"""The review UI in a real browser: Debian's chromium driven by Playwright.

Log in, open the worklist, open a case, scroll slices and change the window,
click a sentence and see its evidence, reject a finding and see the impression
change, edit, and sign. Screenshots are kept in the test's folder, and in
``$RADCYCLE_ARTEFACTS`` when set (``docs/`` holds two of them).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radcycle.service.settings import ServiceSettings
from tests.service.conftest import PASSWORD, Running, add_users, login
from tests.service.test_review import wait_job

pytestmark = [pytest.mark.slow, pytest.mark.service, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ALL_SLICES_LOADED = (
    "Array.from(document.querySelectorAll('img.slice')).every(i => i.complete && i.naturalWidth)"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, patient_dir: Path) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{root / 'svc.db'}"
    add_users(url)
    server = Running(ServiceSettings(data=root / "data", database_url=url))
    tech = login(server.client, "technologist")
    body = {"folder": str(patient_dir), "fhir": str(patient_dir / "fhir_bundle.json")}
    job = server.client.post("/api/jobs", json=body, headers=tech).json()["job"]
    assert wait_job(server.client, tech, job)["status"] == "done"
    yield server
    server.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/install-system-packages.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _until(page: Any, expression: str, timeout: float = 30.0) -> None:
    """Poll ``expression`` from the test side: the page's CSP forbids the in-page eval
    that ``wait_for_function`` uses, and the test must not loosen that policy."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.1)


def _shot(page: Any, folder: Path, name: str) -> Path:
    path = folder / "screenshots" / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("RADCYCLE_ARTEFACTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def _loaded(page: Any, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def test_review_in_the_browser(running: Running, page: Any, tmp_path: Path) -> None:
    base = running.url
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    # login: a wrong password is refused, the right one opens the worklist
    page.goto(f"{base}/login")
    page.fill("input[name=name]", "radiologist")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.inner_text("p.error")
    page.fill("input[name=name]", "radiologist")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table.worklist")
    assert "Worklist" in page.inner_text("h1")
    assert page.inner_text("table.worklist tbody tr td:nth-child(3)") == "draft"
    assert "ago" in page.inner_text("time.age")
    _shot(page, tmp_path, "worklist")
    # the case: slices of both time points, scrolled, in another window
    page.click("table.worklist a")
    page.wait_for_selector("#viewer[data-ready='1']")
    _until(page, "document.querySelectorAll('img.slice').length === 2")
    _until(page, ALL_SLICES_LOADED)
    first = page.get_attribute(".panel[data-t='0'] img.slice", "src")
    page.focus(".panel[data-t='0'] input.scroll")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    scrolled = page.get_attribute(".panel[data-t='0'] img.slice", "src")
    assert scrolled != first
    page.click("button.window[data-window='mediastinum']")
    assert "window=mediastinum" in page.get_attribute(".panel[data-t='1'] img.slice", "src")
    page.click("button.window[data-window='lung']")
    _until(page, ALL_SLICES_LOADED)
    # a sentence's evidence: its facts, the slice, the outline and the measurement
    sentence = page.locator(".section-findings .sentence", has_text="measures").first
    sentence.click()
    page.wait_for_selector("#evidence:not([hidden]) img.evidence-image")
    _until(
        page,
        "document.querySelector('img.evidence-image').complete && "
        "document.querySelector('img.evidence-image').naturalWidth > 0",
    )
    facts = page.inner_text("#evidence ul.facts")
    assert " mm" in facts, facts
    _shot(page, tmp_path, "case-evidence")
    # reject a finding: the impression is recomputed without it
    impression = page.inner_text(".section-impression")
    version = page.inner_text("h1 small")
    page.locator("table.lesions button.reject").first.click()
    _until(page, f"!document.querySelector('h1 small').textContent.includes('{version}')")
    assert page.inner_text("table.lesions td.decision") == "rejected"
    assert page.inner_text(".section-impression") != impression
    # edit: the text is saved and checked; an unsupported sentence is marked
    text = page.input_value("textarea[name=text]")
    page.fill("textarea[name=text]", text + "\nLesion 1 measures 77.0 mm.\n")
    page.click("form.edit button[type=submit]")
    page.wait_for_selector("li.unsupported")
    assert "77.0 mm" in page.inner_text("ul.verdicts")
    _shot(page, tmp_path, "edited")
    # sign: frozen, the edit form gone, amend offered
    page.click("form.sign button[type=submit]")
    page.wait_for_selector("form.amend")
    assert page.inner_text("h1 .badge") == "signed"
    assert page.locator("textarea[name=text]").count() == 0
    assert "Signed by radiologist" in page.inner_text("p.signature")
    _shot(page, tmp_path, "signed")
    # the pages ran under their own Content-Security-Policy without a violation
    assert not [m for m in console if "Content Security Policy" in m], console


def test_a_second_editor_sees_a_clear_conflict(running: Running, page: Any, tmp_path: Path) -> None:
    client = running.client
    ana = login(client, "radiologist")
    case_id = client.get("/api/cases", headers=ana).json()[0]["id"]
    detail = client.get(f"/api/cases/{case_id}", headers=ana).json()
    if detail["version_status"] in {"signed", "amended"}:
        client.post(f"/api/cases/{case_id}/amend", json={"version": detail["version"]}, headers=ana)
    page.goto(f"{running.url}/login")
    page.fill("input[name=name]", "radiologist2")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{running.url}/cases/{case_id}")
    page.wait_for_selector("textarea[name=text]")
    # meanwhile the other radiologist saves an edit through the API
    now = client.get(f"/api/cases/{case_id}", headers=ana).json()
    saved = client.put(
        f"/api/cases/{case_id}/report",
        json={"text": now["report"]["text"] + "\nEdited elsewhere.\n", "version": now["version"]},
        headers=ana,
    )
    assert saved.status_code == 200
    page.fill("textarea[name=text]", "My edit of an old version.")
    page.click("form.edit button[type=submit]")
    page.wait_for_selector("p.conflict")
    assert "changed by someone else" in page.inner_text("p.conflict")
    assert "My edit of an old version." in page.inner_text("pre.kept-text")
    _shot(page, tmp_path, "conflict")
    latest = client.get(f"/api/cases/{case_id}", headers=ana).json()
    assert "Edited elsewhere." in latest["report"]["text"]
    assert "My edit of an old version." not in latest["report"]["text"]
