"""The admin panel in a real browser: Debian's chromium driven by Playwright, axe-core on
every page in every state, a keyboard-only pass, the OIDC code flow against a provider on
loopback, and the database stopped under the status page.

One browser for the module (Playwright's sync API owns this thread's event loop while it
runs, so anything async here runs on a thread of its own: `in_thread`). Every test opens a
fresh browser context: no cookie carries over from one test to the next.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, FileChooser, Page, expect, sync_playwright
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service.app import create_app
from service.db import sqlalchemy_url
from service.migrate import head_revision, migrate
from service.settings import load_settings
from service.storage import S3Storage
from tests.service.admin.panel_support import (
    ADMIN_CLIENT_ID,
    API_AUDIENCE,
    AXE_TAGS,
    CHROMIUM,
    LINKS,
    UPLOAD_LIMIT_BYTES,
    LivePanel,
    in_thread,
    screenshot_path,
    wav_bytes,
    with_upload_limit,
)
from tests.service.conftest import Issuer, build_app, unique
from tests.support.jwks import claims, mint
from tests.support.live_app import serve_app
from tests.support.oidc_provider import OidcProvider
from tests.support.postgres import PostgresCluster, destroy_cluster, start_cluster

pytestmark = [pytest.mark.postgres]

AXE = Axe()
# The machine may be busy (two cores, other suites): wait for a page longer than the default.
expect.set_options(timeout=15_000)
BUCKET = "awaterra-admin-media"


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_panel(
    service_postgres_url: str, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivePanel]:
    """`make serve`'s panel: ENVIRONMENT=local, the local form, files under the data dir."""
    data = tmp_path_factory.mktemp("panel-local")
    settings = load_settings(
        {
            "DATABASE_URL": service_postgres_url,
            "DATA_DIR": str(data),
            "STORAGE_URL": f"file://{data / 'media'}",
            "RATE_LIMIT_PER_SECOND": "0",
            "ADMIN_LINKS": json.dumps(LINKS),
        }
    )
    app = build_app(with_upload_limit(settings), issuer)
    with serve_app(app) as url:
        yield LivePanel(url, app)


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(ADMIN_CLIENT_ID) as server:
        yield server


@pytest.fixture(scope="module")
def oidc_panel(
    service_postgres_url: str,
    provider: OidcProvider,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LivePanel]:
    """A dev stack's panel: sign-in through the issuer, media in S3 (moto)."""
    data = tmp_path_factory.mktemp("panel-oidc")
    settings = load_settings(
        {
            "ENVIRONMENT": "dev",
            "DATABASE_URL": service_postgres_url,
            "DATA_DIR": str(data),
            "STORAGE_URL": f"s3://{BUCKET}/media",
            "AUTH_JWKS_URL": provider.jwks_url,
            "AUTH_ISSUER": provider.issuer,
            "AUTH_AUDIENCE": API_AUDIENCE,
            "ADMIN_OIDC_CLIENT_ID": ADMIN_CLIENT_ID,
            "ADMIN_SESSION_KEY": secrets.token_urlsafe(32),
            "RATE_LIMIT_PER_SECOND": "0",
        }
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    app = create_app(with_upload_limit(settings), storage=S3Storage(BUCKET, "media", client=s3))
    with serve_app(app) as url:
        yield LivePanel(url, app)


@pytest.fixture(scope="module")
def browser(local_panel: LivePanel, oidc_panel: LivePanel) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _honest_provider(provider: OidcProvider) -> None:
    provider.reset()


# ---- helpers --------------------------------------------------------------------------------


def accessible(page: Page, screenshot: str | None = None) -> None:
    """axe-core at the WCAG 2.2 AA levels: zero violations. Optionally a docs screenshot."""
    result = AXE.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    assert result.violations_count == 0, f"{page.url}\n{result.generate_report()}"
    path = screenshot_path(screenshot) if screenshot else None
    if path is not None:
        page.screenshot(path=str(path), full_page=True)


def sign_in_locally(page: Page, panel: LivePanel, user: str, *, admin: bool = True) -> None:
    if urlsplit(page.url).path != "/admin/login":
        page.goto(f"{panel.url}/admin/login")
    page.get_by_label("User", exact=True).fill(user)
    if admin:
        page.get_by_label("Administrator", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert urlsplit(page.url).path != "/admin/login", page.content()


def user_token(issuer: Issuer, subject: str) -> dict[str, str]:
    return issuer.headers(subject)


# ---- local sign-in and every page --------------------------------------------------------


def test_not_signed_in_is_sent_to_the_login_form_then_back(
    page: Page, local_panel: LivePanel
) -> None:
    response = page.goto(f"{local_panel.url}/admin/events?name=open")
    assert response is not None and response.ok
    assert urlsplit(page.url).path == "/admin/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/admin/events?name=open"]
    # The skip link is the first thing the keyboard reaches.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    accessible(page, "login")
    sign_in_locally(page, local_panel, unique("admin"))
    assert page.url.endswith("/admin/events?name=open")
    expect(page.get_by_label("Name", exact=True)).to_have_value("open")


def test_every_page_signed_in_has_navigation_headers_and_no_axe_violation(
    page: Page, local_panel: LivePanel, issuer: Issuer
) -> None:
    # Something on every page: a user with progress and events, a config key.
    practice = unique("nav")
    admin = issuer.headers("seed-admin", admin=True)
    member = unique("member")
    body = {"title": "Body scan", "description": "Ten slow minutes", "durationSeconds": 600,
            "category": "calm", "published": True}
    state = {"userId": member, "practiceData": {"practiceId": practice, "status": "in_progress",
             "progress": 0.4, "updatedAt": "2026-12-01T10:00:00Z", "state": {"step": 3}}}
    events = {"events": [{"name": "practice_opened", "occurredAt": "2026-12-01T10:00:00Z",
                          "properties": {"practiceId": practice}}]}
    with httpx.Client(base_url=local_panel.url, timeout=10) as api:
        assert api.put(f"/practices/{practice}", json=body, headers=admin).status_code == 201
        assert api.post("/map", json=state, headers=issuer.headers(member)).status_code == 200
        assert api.post("/events", json=events, headers=issuer.headers(member)).status_code == 202
        assert api.put("/config/featureBreathing", json={"enabled": True},
                       headers=admin).status_code == 200

    sign_in_locally(page, local_panel, "ada@example.test")
    pages = {
        "/admin": "overview",
        "/admin/practices": "practices",
        f"/admin/practices/{practice}": "practice-edit",
        "/admin/practices/new": "practice-new",
        "/admin/config": "config",
        "/admin/users": "users",
        f"/admin/users/{member}": "user-map",
        f"/admin/erase/{member}": "user-erase",
        f"/admin/events?user={member}": "events",
        "/admin/status": "status",
        "/admin/audit": "audit",
        f"/admin/practices/{practice}/delete": "practice-delete",
        "/admin/config/featureBreathing/delete": "config-delete",
    }
    for path, name in pages.items():
        response = page.goto(local_panel.url + path)
        assert response is not None and response.status == 200, path
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "script-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store"
        navigation = page.get_by_role("navigation", name="Admin sections")
        assert navigation.get_by_role("link").all_inner_texts() == [
            "Overview", "Practices", "Config", "Users", "Events", "Status", "Audit"
        ], path
        accessible(page, name)
    # What those pages showed, in words.
    page.goto(f"{local_panel.url}/admin/users/{member}")
    expect(page.get_by_role("cell", name="in progress")).to_be_visible()
    expect(page.get_by_role("cell", name="40 %")).to_be_visible()
    page.goto(f"{local_panel.url}/admin/status")
    for label, url in LINKS.items():
        expect(page.get_by_role("link", name=label)).to_have_attribute("href", url)
    expect(page.get_by_role("row", name="Database")).to_contain_text("OK")
    expect(page.get_by_text(f"{head_revision()} (newest)")).to_be_visible()
    expect(page.get_by_text("local", exact=True)).to_be_visible()
    # No request of any page left the service's origin.
    page.goto(f"{local_panel.url}/admin")
    origins = page.evaluate(
        "performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
    )
    assert set(origins) <= {local_panel.url}, origins


def test_a_non_administrator_is_refused_and_can_sign_out(
    page: Page, local_panel: LivePanel
) -> None:
    sign_in_locally(page, local_panel, "visitor@example.test", admin=False)
    response = page.goto(f"{local_panel.url}/admin/practices")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Administrators only")
    expect(page.get_by_text("is not an administrator")).to_be_visible()
    accessible(page, "not-admin")
    page.get_by_role("button", name="Sign out").first.click()
    assert page.url.endswith("/admin/signed-out")
    accessible(page)
    page.goto(f"{local_panel.url}/admin")
    assert urlsplit(page.url).path == "/admin/login"


# ---- content: create, publish, the keyboard, what users see --------------------------------


def test_keyboard_only_create_and_publish_then_a_user_sees_it(
    page: Page, local_panel: LivePanel, issuer: Issuer, tmp_path: Path
) -> None:
    media = tmp_path / "breathing.wav"
    media.write_bytes(wav_bytes())
    practice = unique("kb")
    # Listening early turns on Chromium's file chooser interception before the key press
    # that opens it (turned on only inside expect_file_chooser, it can come too late).
    chosen: list[FileChooser] = []
    page.on("filechooser", lambda chooser: chosen.append(chooser))
    sign_in_locally(page, local_panel, "keys@example.test")
    page.goto(f"{local_panel.url}/admin/practices/new")

    def tab_to(element_id: str) -> None:
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_attribute("id", element_id)

    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")  # to <main>, past the header and the navigation
    tab_to("id")
    page.keyboard.type(practice)
    tab_to("title")
    page.keyboard.type("Box breathing")
    tab_to("description")
    page.keyboard.type("Four counts in, hold, out, hold.")
    tab_to("duration_seconds")
    page.keyboard.type("240")
    tab_to("category")
    page.keyboard.type("breath")
    tab_to("published")
    page.keyboard.press("Space")
    tab_to("media")
    page.keyboard.press("Space")
    if not chosen:
        page.wait_for_event("filechooser")
    assert len(chosen) == 1 and chosen[0].element.get_attribute("id") == "media"
    chosen[0].set_files(str(media))
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Save")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/practices/{practice}?saved=1")
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    accessible(page, "practice-saved")

    # The API's answer to a user, at once: published, with the uploaded media behind its URL.
    listed = httpx.get(f"{local_panel.url}/practices", headers=user_token(issuer, "u1")).json()
    ours = [item for item in listed["data"]["practices"] if item["id"] == practice]
    assert len(ours) == 1 and ours[0]["title"] == "Box breathing" and ours[0]["published"]
    assert ours[0]["durationSeconds"] == 240 and ours[0]["category"] == "breath"
    assert ours[0]["mediaKey"].startswith(f"practices/{practice}/")
    assert httpx.get(ours[0]["mediaUrl"]).content == media.read_bytes()

    page.goto(f"{local_panel.url}/admin/audit")
    row = page.get_by_role("row").filter(has_text=practice).first
    expect(row).to_contain_text("keys@example.test")
    expect(row).to_contain_text("practice.create")
    expect(row).to_contain_text('"published": true')


def test_unpublish_search_and_delete_after_confirmation(
    page: Page, local_panel: LivePanel, issuer: Issuer
) -> None:
    practice = unique("del")
    title = f"Evening wind-down {practice}"
    sign_in_locally(page, local_panel, "editor@example.test")
    page.goto(f"{local_panel.url}/admin/practices/new")
    page.get_by_label("ID", exact=True).fill(practice)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Duration (seconds)", exact=True).fill("300")
    page.get_by_label("Category", exact=True).fill("sleep")
    page.get_by_label("Published", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")

    # Search and the published filter find it; the unpublished filter does not.
    page.goto(f"{local_panel.url}/admin/practices")
    page.get_by_label("Search titles").fill(practice)
    page.get_by_label("Published", exact=True).select_option("yes")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=practice)).to_be_visible()
    accessible(page)
    page.get_by_label("Published", exact=True).select_option("no")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No practices match.")).to_be_visible()

    page.goto(f"{local_panel.url}/admin/practices/{practice}")
    page.get_by_label("Published", exact=True).uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    user = user_token(issuer, "u2")
    assert httpx.get(f"{local_panel.url}/practices/{practice}", headers=user).status_code == 404

    page.get_by_role("link", name="Delete this practice…").click()
    expect(page.get_by_role("alert")).to_contain_text(practice)
    expect(page.get_by_role("alert")).to_contain_text(title)
    page.get_by_role("button", name=f"Delete practice {practice}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted the practice {practice}")
    admin = issuer.headers("checker", admin=True)
    assert httpx.get(f"{local_panel.url}/practices/{practice}", headers=admin).status_code == 404

    page.goto(f"{local_panel.url}/admin/audit")
    rows = page.get_by_role("row").filter(has_text=practice)
    expect(rows).to_have_count(3)  # create, update, delete (newest first)
    expect(rows.nth(0)).to_contain_text("practice.delete")
    expect(rows.nth(1)).to_contain_text("practice.update")
    expect(rows.nth(1)).to_contain_text('"published": false')
    expect(rows.nth(2)).to_contain_text("practice.create")


def test_practice_form_errors_beside_fields_keep_what_was_typed(
    page: Page, local_panel: LivePanel, issuer: Issuer, tmp_path: Path
) -> None:
    fake = tmp_path / "notes.mp3"
    fake.write_bytes(b"%PDF-1.7 this is a document, not audio")
    sign_in_locally(page, local_panel, "careless@example.test")
    page.goto(f"{local_panel.url}/admin/practices/new")
    page.get_by_label("ID", exact=True).fill("-bad id")
    page.get_by_label("Title", exact=True).fill("")
    page.get_by_label("Description", exact=True).fill("Kept after the error")
    page.get_by_label("Duration (seconds)", exact=True).fill("ten minutes")
    page.get_by_label("Category", exact=True).fill("calm")
    page.get_by_label("Media file", exact=True).set_input_files(str(fake))
    page.get_by_role("button", name="Save").click()
    assert page.url.endswith("/admin/practices/new")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Nothing was saved")
    for field_id, words in {
        "id": "letters, digits",
        "title": "required",
        "duration_seconds": "whole number of seconds",
        "media": "not audio",
    }.items():
        expect(page.locator(f"#{field_id}-error")).to_contain_text(words)
        expect(page.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Description", exact=True)).to_have_value("Kept after the error")
    expect(page.get_by_label("Duration (seconds)", exact=True)).to_have_value("ten minutes")
    accessible(page, "practice-errors")

    # Nothing half-saved: the same form with a good ID but the wrong file saves nothing.
    practice = unique("typed")
    page.get_by_label("ID", exact=True).fill(practice)
    page.get_by_label("Title", exact=True).fill("Fine title")
    page.get_by_label("Duration (seconds)", exact=True).fill("60")
    page.get_by_label("Media file", exact=True).set_input_files(str(fake))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#media-error")).to_contain_text("not audio")
    admin = issuer.headers("checker", admin=True)
    assert httpx.get(f"{local_panel.url}/practices/{practice}", headers=admin).status_code == 404


def test_an_oversized_upload_is_a_page_and_saves_nothing(
    page: Page, local_panel: LivePanel, issuer: Issuer, tmp_path: Path
) -> None:
    big = tmp_path / "long.wav"
    big.write_bytes(wav_bytes(seconds=UPLOAD_LIMIT_BYTES * 2 / 16000))
    practice = unique("big")
    sign_in_locally(page, local_panel, "uploader@example.test")
    page.goto(f"{local_panel.url}/admin/practices/new")
    page.get_by_label("ID", exact=True).fill(practice)
    page.get_by_label("Title", exact=True).fill("Too long")
    page.get_by_label("Duration (seconds)", exact=True).fill("60")
    page.get_by_label("Category", exact=True).fill("calm")
    page.get_by_label("Media file", exact=True).set_input_files(str(big))
    with page.expect_response("**/admin/practices/new") as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 413
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload too large")
    expect(page.get_by_role("alert")).to_contain_text("larger than 256 KiB")
    accessible(page, "upload-too-large")
    admin = issuer.headers("checker", admin=True)
    assert httpx.get(f"{local_panel.url}/practices/{practice}", headers=admin).status_code == 404


# ---- configuration ------------------------------------------------------------------------


def test_config_set_refused_edited_and_deleted(
    page: Page, local_panel: LivePanel
) -> None:
    key = f"minAppVersion{secrets.token_hex(3)}"
    sign_in_locally(page, local_panel, "config@example.test")
    page.goto(f"{local_panel.url}/admin/config")
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Value (JSON)", exact=True).fill("{'major': 2}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#value-error")).to_contain_text("not valid JSON")
    expect(page.get_by_label("Key", exact=True)).to_have_value(key)
    expect(page.get_by_label("Value (JSON)", exact=True)).to_have_value("{'major': 2}")
    accessible(page, "config-errors")
    assert key not in httpx.get(f"{local_panel.url}/config").json()["data"]

    page.get_by_label("Value (JSON)", exact=True).fill('"2.1.0"')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved {key}")
    assert httpx.get(f"{local_panel.url}/config").json()["data"][key] == "2.1.0"

    page.get_by_role("link", name=f"Edit {key}").click()
    expect(page.get_by_label("Value (JSON)", exact=True)).to_have_value('"2.1.0"')
    page.get_by_label("Value (JSON)", exact=True).fill('{"ios": "2.2.0", "android": 31}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved {key}")
    served = httpx.get(f"{local_panel.url}/config").json()["data"][key]
    assert served == {"ios": "2.2.0", "android": 31}

    page.get_by_role("link", name=f"Delete {key}").click()
    expect(page.get_by_role("alert")).to_contain_text(key)
    accessible(page)
    page.get_by_role("button", name=f"Delete config key {key}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Deleted {key}")
    assert key not in httpx.get(f"{local_panel.url}/config").json()["data"]

    page.goto(f"{local_panel.url}/admin/audit")
    rows = page.get_by_role("row").filter(has_text=key)
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("config.delete")
    expect(rows.nth(1)).to_contain_text("config.set")
    expect(rows.nth(1)).to_contain_text('"android": 31')
    expect(rows.nth(1)).to_contain_text('"value": "2.1.0"')  # before
    expect(rows.nth(2)).to_contain_text("(none)")


# ---- erasing a user ---------------------------------------------------------------------------


def _stored_rows(database_url: str, user: str) -> tuple[int, int, int]:
    """Practice states, events and user rows of `user`, read from the database itself."""

    async def read() -> tuple[int, int, int]:
        engine = create_async_engine(sqlalchemy_url(database_url))
        try:
            async with engine.connect() as connection:
                counts = [
                    (await connection.execute(text(sql), {"u": user})).scalar_one()
                    for sql in (
                        "SELECT count(*) FROM practice_states WHERE user_id = :u",
                        "SELECT count(*) FROM events WHERE user_id = :u",
                        "SELECT count(*) FROM users WHERE subject = :u",
                    )
                ]
        finally:
            await engine.dispose()
        return counts[0], counts[1], counts[2]

    return in_thread(read)


def test_keyboard_only_erasure_of_a_user_after_confirmation(
    page: Page, local_panel: LivePanel, issuer: Issuer, service_postgres_url: str
) -> None:
    practice, member = unique("gone"), unique("leaver")
    body = {"title": "Last practice", "description": "", "durationSeconds": 60,
            "category": "calm", "published": True}
    state = {"userId": member, "practiceData": {"practiceId": practice, "status": "completed",
             "progress": 1.0, "updatedAt": "2026-12-01T10:00:00Z", "state": {}}}
    events = {"events": [{"name": "practice_done", "occurredAt": "2026-12-01T10:00:00Z"}]}
    with httpx.Client(base_url=local_panel.url, timeout=10) as api:
        admin = issuer.headers("seed-admin", admin=True)
        assert api.put(f"/practices/{practice}", json=body, headers=admin).status_code == 201
        assert api.post("/map", json=state, headers=issuer.headers(member)).status_code == 200
        assert api.post("/events", json=events, headers=issuer.headers(member)).status_code == 202
    # The service writes "seen" notes every few seconds: wait for the user row too.
    deadline = time.monotonic() + 15
    while _stored_rows(service_postgres_url, member) != (1, 1, 1):
        assert time.monotonic() < deadline, _stored_rows(service_postgres_url, member)
        time.sleep(0.25)

    sign_in_locally(page, local_panel, "eraser@example.test")
    page.goto(f"{local_panel.url}/admin/users/{member}")
    accessible(page)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    for name in ("Last practice", "This user's events", "Back to users",
                 "Erase this user's data…"):
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_contain_text(name)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/erase/{member}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Erase user {member}")
    expect(page.get_by_role("alert")).to_contain_text(
        "1 practice state, 1 event and the user row"
    )
    accessible(page)
    assert _stored_rows(service_postgres_url, member) == (1, 1, 1)  # asking erased nothing

    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text(f"Erase user {member}")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/users?erased=*")
    expect(page.get_by_role("status")).to_contain_text(
        f"Erased the user {member}: 1 practice state, 1 event and the user row"
    )
    accessible(page)

    # Gone from the database, and the user's own export finds nothing (read in this order:
    # the export request notes the user as seen, a new user).
    assert _stored_rows(service_postgres_url, member) == (0, 0, 0)
    exported = httpx.get(f"{local_panel.url}/me/export", headers=issuer.headers(member))
    assert exported.status_code == 200
    data = exported.json()["data"]
    assert data["practices"] == [] and data["events"] == [] and data["firstSeenAt"] is None

    page.goto(f"{local_panel.url}/admin/audit")
    row = page.get_by_role("row").filter(has_text=member)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("eraser@example.test")
    expect(row).to_contain_text("user.erase")
    expect(row).to_contain_text("Erased 1 practice state, 1 event and the user row")
    expect(row).to_contain_text('"userRows": 1')


# ---- cross-origin ----------------------------------------------------------------------------


def test_a_form_posted_from_another_origin_is_refused(
    page: Page, local_panel: LivePanel, tmp_path: Path
) -> None:
    """Another port on 127.0.0.1 is the same site (the cookie goes along) but another
    origin: the panel refuses the POST, even carrying the victim's real CSRF token."""
    key = f"hijacked{secrets.token_hex(3)}"
    sign_in_locally(page, local_panel, "victim@example.test")
    page.goto(f"{local_panel.url}/admin/config")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    evil = tmp_path / "evil.html"
    evil.write_text(
        f"""<!DOCTYPE html><html lang="en"><title>win</title><body>
        <form method="post" action="{local_panel.url}/admin/config">
        <input name="csrf_token" value="{token}"><input name="key" value="{key}">
        <input name="value" value="1"><button>Claim prize</button></form></body></html>"""
    )
    with serve_app(_static_site(evil)) as evil_url:
        page.goto(f"{evil_url}/")
        with page.expect_response(f"{local_panel.url}/admin/config") as answer:
            page.get_by_role("button", name="Claim prize").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("sent from another site")
    assert key not in httpx.get(f"{local_panel.url}/config").json()["data"]


def _static_site(document: Path):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    html = document.read_text()

    async def index(request):  # type: ignore[no-untyped-def]
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", index)])


# ---- OIDC ------------------------------------------------------------------------------------


def test_oidc_code_flow_with_pkce_signs_an_administrator_in(
    page: Page, oidc_panel: LivePanel, provider: OidcProvider
) -> None:
    provider.next_user = ("ops@example.test", True)
    before = len(provider.log.token_requests)
    response = page.goto(f"{oidc_panel.url}/admin/config")
    assert response is not None and response.status == 200
    assert page.url == f"{oidc_panel.url}/admin/config"
    expect(page.get_by_text("Signed in as ops@example.test")).to_be_visible()
    accessible(page)

    sent = provider.log.authorize_requests[-1]
    assert sent["response_type"] == "code" and sent["client_id"] == ADMIN_CLIENT_ID
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["scope"] == "openid email"
    assert sent["redirect_uri"] == f"{oidc_panel.url}/admin/callback"
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32
    exchange = provider.log.token_requests[before:]
    assert len(exchange) == 1 and exchange[0]["code_verifier"]
    assert not provider.log.token_refusals[before:]

    cookie = next(c for c in page.context.cookies() if c["name"] == "awaterra_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/admin"
    assert 0 < cookie["expires"] - time.time() <= 8 * 3600
    # It holds no token: neither the ID token nor the access token, nor the spent login.
    for secret in (*provider.log.tokens[-2:], exchange[0]["code"], exchange[0]["code_verifier"]):
        assert secret not in cookie["value"]
    assert len(cookie["value"]) < 400  # an RS256 JWT alone is longer


def test_oidc_wrong_state_replayed_code_bad_token_and_wrong_nonce_are_400(
    page: Page, oidc_panel: LivePanel, provider: OidcProvider
) -> None:
    cases = {
        "wrong_state": "wrong or expired state",
        "unknown_key": "ID token was refused: token signature invalid",
        "wrong_nonce": "nonce does not match",
    }
    for knob, words in cases.items():
        provider.reset()
        setattr(provider.misbehave, knob, True)
        response = page.goto(f"{oidc_panel.url}/admin/login")
        assert response is not None and response.status == 400, knob
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in failed")
        expect(page.get_by_role("alert")).to_contain_text(words)
        accessible(page, "sign-in-failed" if knob == "wrong_state" else None)
        assert urlsplit(page.url).path == "/admin/callback"
        page.goto(f"{oidc_panel.url}/admin/status")
        assert urlsplit(page.url).path == "/admin/callback", "signed in despite " + knob

    # A code that was already exchanged, sent back with a fresh state: the provider refuses it.
    provider.reset()
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/admin/callback" in r.url else None)
    page.goto(f"{oidc_panel.url}/admin/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    used_code = provider.log.codes[-1]
    callback_url = callbacks[-1]
    page.context.clear_cookies()
    provider.misbehave.replay_code = used_code
    response = page.goto(f"{oidc_panel.url}/admin/login")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("refused the code")
    assert provider.log.token_refusals[-1] == "code already used"
    # And the earlier callback URL once more, in this browser: its state is spent.
    provider.reset()
    response = page.goto(callback_url)
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("wrong or expired state")


def test_oidc_non_administrator_is_refused(
    page: Page, oidc_panel: LivePanel, provider: OidcProvider
) -> None:
    provider.next_user = ("member@example.test", False)
    response = page.goto(f"{oidc_panel.url}/admin")
    assert response is not None and response.status == 403
    expect(page.get_by_text("member@example.test, who is not an administrator")).to_be_visible()
    accessible(page)
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("status")).to_contain_text("signed out")


def test_oidc_panel_saves_media_to_s3_and_has_no_local_form(
    page: Page, oidc_panel: LivePanel, provider: OidcProvider, tmp_path: Path
) -> None:
    answer = httpx.post(f"{oidc_panel.url}/admin/login", data={"user": "x", "admin": "on"})
    assert answer.status_code in (403, 404)  # no form in dev: no session, or not found
    media = tmp_path / "tone.wav"
    media.write_bytes(wav_bytes())
    practice = unique("s3")
    page.goto(f"{oidc_panel.url}/admin/practices/new")
    page.get_by_label("ID", exact=True).fill(practice)
    page.get_by_label("Title", exact=True).fill("Tone")
    page.get_by_label("Duration (seconds)", exact=True).fill("30")
    page.get_by_label("Category", exact=True).fill("focus")
    page.get_by_label("Published", exact=True).check()
    page.get_by_label("Media file", exact=True).set_input_files(str(media))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    user = {"Authorization": "Bearer " + mint(
        provider.key, claims(provider.issuer, API_AUDIENCE, "app-user"))}
    item = httpx.get(f"{oidc_panel.url}/practices/{practice}", headers=user).json()["data"]
    assert item["mediaUrl"].startswith("http://127.0.0.1:")  # moto's presigned URL
    assert httpx.get(item["mediaUrl"]).content == media.read_bytes()
    # An ID token of the panel's client is not a token for the API.
    panel_token = mint(provider.key, claims(provider.issuer, ADMIN_CLIENT_ID, "x", admin=True))
    denied = httpx.get(f"{oidc_panel.url}/practices",
                       headers={"Authorization": f"Bearer {panel_token}"})
    assert denied.status_code == 401


# ---- the database stopped --------------------------------------------------------------------


def test_status_says_the_database_is_failing_when_it_is_stopped(
    page: Page, issuer: Issuer, tmp_path: Path
) -> None:
    cluster: PostgresCluster = start_cluster()
    try:
        url = cluster.create_database("panel_status")
        settings = load_settings(
            {"DATABASE_URL": url, "DATA_DIR": str(tmp_path), "RATE_LIMIT_PER_SECOND": "0"}
        )
        settings = replace(settings, db_connect_timeout_seconds=1.0)
        in_thread(lambda: migrate(settings))
        panel = LivePanel("", build_app(settings, issuer))
        with serve_app(panel.app) as base:
            panel.url = base
            sign_in_locally(page, panel, "oncall@example.test")
            page.goto(f"{base}/admin/status")
            expect(page.get_by_role("row", name="Database")).to_contain_text("OK")
            cluster.stop("immediate")
            time.sleep(0.3)  # past the database check's reuse window
            response = page.goto(f"{base}/admin/status")
            assert response is not None and response.status == 200
            row = page.get_by_role("row", name="Database")
            expect(row).to_contain_text("Failing")
            expect(row).to_contain_text("no answer")
            expect(page.get_by_role("row", name="Storage")).to_contain_text("OK")
            expect(page.get_by_text("unknown: the database is not answering")).to_be_visible()
            accessible(page, "status-database-stopped")
            page.goto(f"{base}/admin")
            expect(page.get_by_text("Unavailable:")).to_be_visible()
            accessible(page)
            response = page.goto(f"{base}/admin/practices")
            assert response is not None and response.status == 503
            expect(page.get_by_role("alert")).to_contain_text("unavailable")
            accessible(page)
    finally:
        destroy_cluster(cluster)
