"""The panel over HTTP, in process, on PostgreSQL and SQLite: the same changes as the API's,
audited; CSRF and cross-origin refusals; every bad input a page with a message, never a 500."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from service.app import ServiceApp
from service.models import audit_log
from service.settings import Settings, load_settings
from tests.service.admin.panel_support import csrf_of, wav_bytes, with_upload_limit
from tests.service.conftest import Issuer, build_app, running, unique

pytestmark = pytest.mark.anyio

ORIGIN = "http://service.test"


async def sign_in(client: httpx.AsyncClient, user: str, *, admin: bool = True) -> str:
    """Sign in through the local form; the session's CSRF token."""
    page = await client.get("/admin/login")
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page.text), "user": user, "next": "/admin"}
    if admin:
        form["admin"] = "on"
    answer = await client.post("/admin/login", data=form, headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text
    return csrf_of((await client.get("/admin")).text)


@pytest.fixture
async def panel(
    settings: Settings, issuer: Issuer
) -> AsyncIterator[tuple[ServiceApp, httpx.AsyncClient]]:
    app = build_app(with_upload_limit(settings), issuer)
    async with running(app) as client:
        yield app, client


def practice_form(csrf: str, practice_id: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "id": practice_id,
        "title": "Breathing",
        "description": "Slow",
        "duration_seconds": "120",
        "category": "calm",
        "published": "on",
        **overrides,
    }


async def audit_rows(app: ServiceApp, target: str) -> list[Any]:
    async with app.services.engine.connect() as connection:
        statement = select(audit_log).where(audit_log.c.target == target).order_by(audit_log.c.id)
        return list((await connection.execute(statement)).all())


async def test_panel_changes_are_the_apis_and_are_audited(
    panel: tuple[ServiceApp, httpx.AsyncClient], issuer: Issuer
) -> None:
    app, client = panel
    csrf = await sign_in(client, "panel-admin")
    practice = unique("http")
    answer = await client.post(
        "/admin/practices/new",
        data=practice_form(csrf, practice),
        files={"media": ("calm.wav", wav_bytes(), "audio/wav")},
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 303, answer.text
    user = issuer.headers("someone")
    served = (await client.get(f"/practices/{practice}", headers=user)).json()["data"]
    assert served["title"] == "Breathing" and served["published"] is True
    media = await client.get(served["mediaUrl"])
    assert media.content == wav_bytes()

    key = unique("flag").replace("-", "_")
    answer = await client.post(
        "/admin/config", data={"csrf_token": csrf, "key": key, "value": "[1, 2]"},
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 303, answer.text
    assert (await client.get("/config")).json()["data"][key] == [1, 2]
    # A bare number too (SQLite hands it back as a number, not as JSON text).
    answer = await client.post(
        "/admin/config", data={"csrf_token": csrf, "key": key, "value": "7"},
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 303, answer.text
    assert (await client.get("/config")).json()["data"][key] == 7

    [created] = await audit_rows(app, practice)
    assert created.actor == "panel-admin" and created.action == "practice.create"
    assert created.before is None and created.after["mediaKey"] == served["mediaKey"]
    first, second = await audit_rows(app, key)
    assert first.before is None and first.after == {"value": [1, 2]}
    assert second.before == {"value": [1, 2]} and second.after == {"value": 7}


async def test_panel_and_api_edits_of_one_practice_chain_in_the_audit_log(
    panel: tuple[ServiceApp, httpx.AsyncClient], issuer: Issuer
) -> None:
    """The log replays a practice's history whichever way each change came: every row's
    `before` is the previous row's `after`, and each names its own administrator."""
    app, client = panel
    csrf = await sign_in(client, "panel-admin")
    practice = unique("http")
    answer = await client.post("/admin/practices/new", data=practice_form(csrf, practice),
                               headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text
    body = {"title": "From the API", "description": "Slow", "durationSeconds": 120,
            "category": "calm", "published": False}
    answer = await client.put(f"/practices/{practice}", json=body,
                              headers=issuer.headers("api-admin", admin=True))
    assert answer.status_code == 200, answer.text
    answer = await client.post(f"/admin/practices/{practice}",
                               data=practice_form(csrf, practice, title="From the panel"),
                               headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text

    rows = await audit_rows(app, practice)
    assert [(row.action, row.actor) for row in rows] == [
        ("practice.create", "panel-admin"),
        ("practice.update", "api-admin"),
        ("practice.update", "panel-admin"),
    ]
    assert [row.after["title"] for row in rows] == ["Breathing", "From the API", "From the panel"]
    assert rows[1].after["published"] is False and rows[2].after["published"] is True
    for earlier, later in itertools.pairwise(rows):
        assert later.before == earlier.after


async def test_panel_edits_are_listed_at_once_by_the_api(
    panel: tuple[ServiceApp, httpx.AsyncClient], issuer: Issuer
) -> None:
    """The worker that served the panel's edit clears its kept GET /practices."""
    _, client = panel
    csrf = await sign_in(client, "panel-admin")
    user = issuer.headers("someone")

    async def listed() -> dict[str, str]:
        body = (await client.get("/practices", headers=user)).json()
        return {p["id"]: p["title"] for p in body["data"]["practices"]}

    practice = unique("http")
    assert practice not in await listed()
    for path, form in (("/admin/practices/new", practice_form(csrf, practice)),
                       (f"/admin/practices/{practice}",
                        practice_form(csrf, practice, title="Longer breaths"))):
        answer = await client.post(path, data=form, headers={"Origin": ORIGIN})
        assert answer.status_code == 303, answer.text
        assert (await listed()).get(practice) == form["title"]
    answer = await client.post(f"/admin/practices/{practice}/delete",
                               data={"csrf_token": csrf}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303, answer.text
    assert practice not in await listed()


async def test_the_audit_log_refuses_update_and_delete(
    panel: tuple[ServiceApp, httpx.AsyncClient],
) -> None:
    app, client = panel
    csrf = await sign_in(client, "auditor")
    key = unique("k").replace("-", "_")
    await client.post("/admin/config", data={"csrf_token": csrf, "key": key, "value": "1"},
                      headers={"Origin": ORIGIN})
    for statement in (
        f"UPDATE audit_log SET actor = 'someone else' WHERE target = '{key}'",
        f"DELETE FROM audit_log WHERE target = '{key}'",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with app.services.engine.begin() as connection:
                await connection.execute(text(statement))
    [row] = await audit_rows(app, key)
    assert row.actor == "auditor"


async def test_posts_without_the_sessions_token_or_from_another_origin_change_nothing(
    panel: tuple[ServiceApp, httpx.AsyncClient], settings: Settings, issuer: Issuer
) -> None:
    app, client = panel
    csrf = await sign_in(client, "careful")
    other = build_app(settings, issuer)
    async with running(other) as stranger:
        # The other client's sessions are signed with the same key (the same data directory).
        their_csrf = await sign_in(stranger, "mallory")
    assert their_csrf != csrf
    key = unique("csrf").replace("-", "_")
    form = {"key": key, "value": "true"}
    refusals = [
        ({**form}, {"Origin": ORIGIN}, "security token"),
        ({**form, "csrf_token": their_csrf}, {"Origin": ORIGIN}, "security token"),
        ({**form, "csrf_token": "x" * 43}, {"Origin": ORIGIN}, "security token"),
        ({**form, "csrf_token": csrf}, {"Origin": "https://evil.example"}, "another site"),
        ({**form, "csrf_token": csrf}, {"Origin": "null"}, "another site"),
        ({**form, "csrf_token": csrf}, {"Sec-Fetch-Site": "cross-site"}, "another site"),
        ({**form, "csrf_token": csrf}, {"Sec-Fetch-Site": "same-site"}, "another site"),
    ]
    for data, headers, words in refusals:
        answer = await client.post("/admin/config", data=data, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
        assert words in answer.text and "text/html" in answer.headers["content-type"]
    config = (await client.get("/config")).json()
    assert "data" in config, config
    assert key not in config["data"]
    assert not await audit_rows(app, key)
    # Signing out needs the token as well, and a signed-out session's token is worthless.
    assert (await client.post("/admin/logout", headers={"Origin": ORIGIN})).status_code == 403
    answer = await client.post(
        "/admin/logout", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 303
    answer = await client.post("/admin/config", data={**form, "csrf_token": csrf},
                               headers={"Origin": ORIGIN})
    assert answer.status_code == 403
    ok = await client.get("/admin")
    assert ok.status_code == 303


def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    body = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += value + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


async def test_bad_input_is_a_page_with_a_message_never_a_500(
    panel: tuple[ServiceApp, httpx.AsyncClient], issuer: Issuer
) -> None:
    _, client = panel
    csrf = await sign_in(client, "fuzzer")
    good = unique("good")
    assert (await client.post("/admin/practices/new", data=practice_form(csrf, good),
                              headers={"Origin": ORIGIN})).status_code == 303
    nul_id = unique("nul")
    two_files = _multipart(
        "b0und",
        [("csrf_token", None, csrf.encode()), ("media", "a.wav", wav_bytes()),
         ("media", "b.wav", wav_bytes())],
    )
    multipart = "multipart/form-data; boundary="
    config = "/admin/config"
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/admin/practices/nope", {}, 404, "There is no practice"),
        ("GET", "/admin/practices/%00", {}, 404, "There is no practice"),
        ("GET", "/admin/practices?q=%00", {}, 400, "NUL character"),
        ("GET", "/admin/practices?page=abc", {}, 400, "whole number"),
        ("GET", "/admin/practices?page=0", {}, 400, "whole number"),
        ("GET", "/admin/practices?published=maybe", {}, 400, "published filter"),
        ("GET", "/admin/events?user=%00", {}, 400, "NUL character"),
        ("GET", "/admin/events?name=" + "n" * 300, {}, 400, "longer than"),
        ("GET", "/admin/users/nobody-at-all", {}, 404, "no user"),
        ("GET", "/admin/audit?page=-1", {}, 400, "whole number"),
        ("GET", "/admin/config?key=nope", {}, 404, "no config key"),
        ("GET", "/admin/config/nope/delete", {}, 404, "no config key"),
        ("GET", "/admin/nowhere", {}, 404, "no such page"),
        ("PUT", "/admin/config", {}, 405, "does not take"),
        ("POST", "/admin/config/nope/delete", {"data": {"csrf_token": csrf}}, 404, "no config key"),
        ("POST", "/admin/practices/nope", {"data": practice_form(csrf, "nope")}, 404,
         "There is no practice"),
        ("POST", "/admin/practices/new", {"data": practice_form(csrf, nul_id, title="a\x00b")},
         400, "NUL character"),
        ("POST", "/admin/practices/new", {"data": practice_form(csrf, good)}, 400,
         "already exists"),
        ("POST", "/admin/practices/new", {"data": practice_form(csrf, "new")}, 400,
         "choose another ID"),
        ("POST", "/admin/practices/new",
         {"data": practice_form(csrf, nul_id, duration_seconds="90000")}, 400, "86400"),
        ("POST", "/admin/practices/new",
         {"data": practice_form(csrf, nul_id), "files": {"media": ("e.wav", b"", "audio/wav")}},
         400, "empty"),
        ("POST", "/admin/practices/new",
         {"data": practice_form(csrf, nul_id),
          "files": {"media": ("x.png", b"<script>alert(1)</script>", "image/png")}},
         400, "not audio"),
        ("POST", "/admin/practices/new",
         {"data": practice_form(csrf, nul_id),
          "files": {"title": ("t.txt", b"title as a file", "text/plain")}}, 400, "must be text"),
        ("POST", "/admin/practices/new",
         {"content": two_files, "headers": {"Content-Type": multipart + "b0und"}},
         400, "could not be read"),
        ("POST", "/admin/config",
         {"content": b"--x\r\nbroken", "headers": {"Content-Type": multipart + "x"}},
         403, "security token"),
        ("POST", "/admin/config", {"data": {"csrf_token": csrf, "key": "k\x00", "value": "1"}},
         400, "NUL character"),
        ("POST", config, {"data": {"csrf_token": csrf, "key": "ok", "value": '"a\\u0000"'}},
         400, "NUL character"),
        ("POST", "/admin/config", {"data": {"csrf_token": csrf, "key": "ok", "value": "1e19"}},
         400, "cannot be stored"),
        ("POST", "/admin/config", {"data": {"csrf_token": csrf, "key": "9lives", "value": "1"}},
         400, "starting with a letter"),
        ("POST", "/admin/config", {"data": {"csrf_token": csrf, "key": "ok", "value": ""}},
         400, "Enter a JSON value"),
        ("POST", config, {"data": {"csrf_token": csrf, "key": "ok", "value": "x" * (2 << 20)}},
         413, "larger than 1 MiB"),
        ("POST", "/admin/practices/new",
         {"content": b"", "headers": {"Content-Length": str(10 << 30),
                                      "Content-Type": "multipart/form-data; boundary=x"}},
         413, "larger than 256 KiB"),
    ]
    for method, path, options, status, words in cases:
        headers = {"Origin": ORIGIN, **options.pop("headers", {})}
        answer = await client.request(method, path, headers=headers, **options)
        label = f"{method} {path} {status} {words}"
        assert answer.status_code == status, (label, answer.text[-600:])
        assert "text/html" in answer.headers["content-type"], label
        assert words in answer.text, (label, answer.text[-600:])
        assert "Traceback" not in answer.text and "sqlalchemy" not in answer.text.lower()
        assert answer.headers["x-content-type-options"] == "nosniff"
    admin = issuer.headers("checker", admin=True)
    assert (await client.get(f"/practices/{nul_id}", headers=admin)).status_code == 404
    assert "ok" not in (await client.get("/config")).json()["data"]


async def test_the_session_cookie(panel: tuple[ServiceApp, httpx.AsyncClient], settings: Settings,
                                  issuer: Issuer) -> None:
    app, client = panel
    page = await client.get("/admin/login")
    cookie = page.headers["set-cookie"]
    for attribute in ("HttpOnly", "Path=/admin", "SameSite=lax", "Max-Age=28800"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie
    client.cookies.clear()
    forwarded = await client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in forwarded.headers["set-cookie"]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://service.test") as tls:
        assert "Secure" in (await tls.get("/admin/login")).headers["set-cookie"]

    client.cookies.clear()
    await sign_in(client, "cookie-admin")
    value = client.cookies["awaterra_admin"]
    payload, _, signature = value.rpartition(".")
    client.cookies.set("awaterra_admin", payload + "." + signature[::-1], path="/admin")
    forged = await client.get("/admin")
    assert forged.status_code == 303 and forged.headers["location"].startswith("/admin/login")


async def test_sign_in_never_sends_anyone_to_another_site(
    panel: tuple[ServiceApp, httpx.AsyncClient],
) -> None:
    _, client = panel
    for target in ("https://evil.example/admin", "//evil.example/admin", "/admin\\@evil",
                   "/elsewhere", "/admin/\r\nSet-Cookie: x"):
        client.cookies.clear()
        page = await client.get("/admin/login")
        form = {"csrf_token": csrf_of(page.text), "user": "a", "admin": "on", "next": target}
        answer = await client.post("/admin/login", data=form, headers={"Origin": ORIGIN})
        assert answer.status_code == 303 and answer.headers["location"] == "/admin", target
    client.cookies.clear()
    page = await client.get("/admin/login")
    form = {"csrf_token": csrf_of(page.text), "user": "", "next": "/admin"}
    answer = await client.post("/admin/login", data=form, headers={"Origin": ORIGIN})
    assert answer.status_code == 400 and "Enter a user name" in answer.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_dev_without_an_oidc_client_answers_503_and_the_api_works(
    settings: Settings, issuer: Issuer
) -> None:
    dev = replace(settings, environment="dev")
    app = build_app(dev, issuer)
    async with running(app) as client:
        for method, path in (("GET", "/admin"), ("GET", "/admin/login"), ("POST", "/admin/login"),
                             ("GET", "/admin/practices"), ("GET", "/admin/callback")):
            answer = await client.request(method, path)
            assert answer.status_code == 503, path
            assert "not configured" in answer.text and "ADMIN_OIDC_CLIENT_ID" in answer.text
            assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert (await client.get("/heartbeat")).status_code == 200
        assert (await client.get("/config")).status_code == 200
        assert (await client.get("/admin/static/admin.css")).status_code == 200


def test_admin_settings_are_checked() -> None:
    base = {"ENVIRONMENT": "dev", "AUTH_JWKS_URL": "https://i.test/jwks", "AUTH_ISSUER":
            "https://i.test", "AUTH_AUDIENCE": "app", "DATABASE_URL": "postgresql://u@h/d"}
    with pytest.raises(ValueError, match="ADMIN_SESSION_KEY must be set when ENVIRONMENT=dev"):
        load_settings({**base, "ADMIN_OIDC_CLIENT_ID": "panel"})
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_settings({**base, "ADMIN_OIDC_CLIENT_ID": "panel", "ADMIN_SESSION_KEY": "short"})
    with pytest.raises(ValueError, match="ADMIN_LINKS must be a JSON object"):
        load_settings({**base, "ADMIN_LINKS": "[1]"})
    with pytest.raises(ValueError, match="ADMIN_LINKS must be a JSON object of label to http"):
        load_settings({**base, "ADMIN_LINKS": '{"Logs": "javascript:alert(1)"}'})
    with pytest.raises(ValueError, match="ADMIN_BASE_URL must be an origin"):
        load_settings({**base, "ADMIN_BASE_URL": "https://api.example.com/admin"})
    with pytest.raises(ValueError, match="signs in through AUTH_ISSUER"):
        load_settings({"ADMIN_OIDC_CLIENT_ID": "panel"})
    settings = load_settings({**base, "ADMIN_OIDC_CLIENT_ID": "panel",
                              "ADMIN_SESSION_KEY": "k" * 40,
                              "ADMIN_BASE_URL": "https://api.example.com",
                              "ADMIN_LINKS": '{"Logs": "https://logs.example.com/x"}'})
    assert settings.admin.oidc_client_id == "panel"
    assert settings.admin.base_url == "https://api.example.com"
    assert dict(settings.admin.links) == {"Logs": "https://logs.example.com/x"}
    assert "k" * 40 not in repr(settings)
    # Without a client the panel is off in dev, and the service still starts.
    assert load_settings(base).admin.oidc_client_id is None
    assert re.fullmatch(r"https://api\.example\.com", settings.admin.base_url or "")


async def test_api_config_numbers_read_back_on_both_databases(
    panel: tuple[ServiceApp, httpx.AsyncClient], issuer: Issuer
) -> None:
    """Found through the panel: on SQLite a bare number stored as a config value made every
    GET /config a 500 (the column's NUMERIC affinity returns a number, not JSON text)."""
    _, client = panel
    admin = issuer.headers("ops", admin=True)
    for value in (1, 2.5, -3, 0):
        key = unique("num").replace("-", "_")
        assert (await client.put(f"/config/{key}", json=value, headers=admin)).status_code == 200
        assert (await client.get("/config")).json()["data"][key] == value


# ---- erasing a user ---------------------------------------------------------------------------


async def _seed(client: httpx.AsyncClient, issuer: Issuer, practice: str, user: str) -> None:
    headers = issuer.headers(user)
    state = {"userId": user, "practiceData": {"practiceId": practice, "status": "completed",
             "progress": 1.0, "updatedAt": "2026-12-01T10:00:00Z", "state": {}}}
    assert (await client.post("/map", json=state, headers=headers)).status_code == 200
    events = {"events": [{"name": "opened", "occurredAt": "2026-12-01T10:00:00Z"},
                         {"name": "closed", "occurredAt": "2026-12-01T10:05:00Z"}]}
    assert (await client.post("/events", json=events, headers=headers)).status_code == 202


async def _stored(app: ServiceApp, user: str) -> tuple[int, int, int]:
    async with app.services.engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            [
                (await connection.execute(text(statement), {"u": user})).scalar_one()
                for statement in (
                    "SELECT count(*) FROM practice_states WHERE user_id = :u",
                    "SELECT count(*) FROM events WHERE user_id = :u",
                    "SELECT count(*) FROM users WHERE subject = :u",
                )
            ]
        )


async def test_erasing_a_user_asks_first_then_is_the_apis_erasure_audited(
    panel: tuple[ServiceApp, httpx.AsyncClient], issuer: Issuer
) -> None:
    app, client = panel
    csrf = await sign_in(client, "eraser-admin")
    admin = issuer.headers("seed-admin", admin=True)
    practice = unique("erase")
    body = {"title": "Breath", "description": "", "durationSeconds": 60, "category": "calm",
            "published": True}
    assert (await client.put(f"/practices/{practice}", json=body, headers=admin)).status_code == 201
    user, pending, stayer = unique("leaver"), unique("pending"), unique("stayer")
    for someone in (user, stayer):
        await _seed(client, issuer, practice, someone)
    await app.services.seen.flush()
    # Noted as seen but not yet written: without forgetting the note, the flush after the
    # erasure would bring this user's row back.
    await _seed(client, issuer, practice, pending)
    assert await _stored(app, user) == (1, 2, 1)

    page = await client.get(f"/admin/users/{user}")
    assert f'href="/admin/erase/{user}"' in page.text and "Erase this user" in page.text
    confirm = await client.get(f"/admin/erase/{user}")
    assert confirm.status_code == 200
    assert "1 practice state, 2 events and the user row" in confirm.text
    assert 'aria-current="page">Users' in confirm.text
    assert await _stored(app, user) == (1, 2, 1)  # asking erased nothing

    answer = await client.post(f"/admin/erase/{user}", data={"csrf_token": csrf},
                               headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    listed = await client.get(answer.headers["location"])
    assert listed.status_code == 200
    assert re.search(rf"Erased</strong> the user <code>{user}</code>: 1 practice state, 2 "
                     r"events and the user row", listed.text), listed.text
    answer = await client.post(f"/admin/erase/{pending}", data={"csrf_token": csrf},
                               headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    await app.services.seen.flush()
    assert await _stored(app, user) == (0, 0, 0)
    assert await _stored(app, pending) == (0, 0, 0)
    assert await _stored(app, stayer) == (1, 2, 1)
    exported = (await client.get("/me/export", headers=issuer.headers(user))).json()["data"]
    assert exported["practices"] == [] and exported["events"] == []
    assert exported["firstSeenAt"] is None

    # Nothing stored is not an error: the page says so, and the erasure is still recorded.
    nobody = unique("nobody")
    confirm = await client.get(f"/admin/erase/{nobody}")
    assert confirm.status_code == 200 and "Nothing is stored about the user" in confirm.text
    answer = await client.post(f"/admin/erase/{nobody}", data={"csrf_token": csrf},
                               headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    listed = await client.get(answer.headers["location"])
    assert "nothing (nothing was stored)" in listed.text

    [row] = await audit_rows(app, user)
    assert (row.actor, row.action, row.after) == ("eraser-admin", "user.erase", None)
    assert row.before == {"practiceStates": 1, "events": 2, "userRows": 1}
    [row] = await audit_rows(app, nobody)
    assert row.actor == "eraser-admin"
    assert row.before == {"practiceStates": 0, "events": 0, "userRows": 0}
    audit = (await client.get("/admin/audit")).text
    assert "Erased 1 practice state, 2 events and the user row" in audit


async def test_an_erasure_without_the_token_or_from_another_origin_erases_nothing(
    panel: tuple[ServiceApp, httpx.AsyncClient], settings: Settings, issuer: Issuer
) -> None:
    app, client = panel
    csrf = await sign_in(client, "careful-eraser")
    other = build_app(settings, issuer)
    async with running(other) as stranger:
        their_csrf = await sign_in(stranger, "mallory")
    practice = unique("keep")
    body = {"title": "Keep", "description": "", "durationSeconds": 60, "category": "calm",
            "published": True}
    admin = issuer.headers("seed-admin", admin=True)
    assert (await client.put(f"/practices/{practice}", json=body, headers=admin)).status_code == 201
    user = unique("kept")
    await _seed(client, issuer, practice, user)
    path = f"/admin/erase/{user}"
    refusals: list[tuple[dict[str, str], dict[str, str], str]] = [
        ({}, {"Origin": ORIGIN}, "security token"),
        ({"csrf_token": their_csrf}, {"Origin": ORIGIN}, "security token"),
        ({"csrf_token": csrf}, {"Origin": "https://evil.example"}, "another site"),
        ({"csrf_token": csrf}, {"Sec-Fetch-Site": "cross-site"}, "another site"),
    ]
    for data, headers, words in refusals:
        answer = await client.post(path, data=data, headers=headers)
        assert answer.status_code == 403, (data, headers, answer.text)
        assert words in answer.text and "Nothing was changed" in answer.text
    # Bad IDs: a page saying why, never a 500, nothing erased or audited.
    for bad, words in (("x" * 256, "1 to 255 characters"), ("a%00b", "no NUL"),
                       ("", "1 to 255 characters")):
        for method, options in (("GET", {}), ("POST", {"data": {"csrf_token": csrf}})):
            answer = await client.request(method, f"/admin/erase/{bad}",
                                          headers={"Origin": ORIGIN}, **options)
            assert answer.status_code == 404, (method, bad, answer.text[-400:])
            assert words in answer.text and "Nothing was erased" in answer.text
    assert (await client.get("/admin/erase", headers={"Origin": ORIGIN})).status_code == 404
    assert await _stored(app, user) == (1, 2, 0)
    assert not await audit_rows(app, user)
    async with app.services.engine.connect() as connection:
        erasures = (await connection.execute(
            select(audit_log).where(audit_log.c.action == "user.erase",
                                    audit_log.c.actor == "careful-eraser"))).all()
    assert erasures == []
