"""The issuer's signing keys (a JWKS document), cached and refreshed off the event loop.

Refreshes happen on an unknown `kid` (key rotation) and when the cached set is older than
`max_age` (key revocation). They are rate limited, so a stream of tokens with forged `kid`s
costs the issuer at most one request per `min_refresh_interval`, and single-flight, so a
burst of requests that all miss shares one fetch. The fetch itself runs in a thread with a
timeout: a slow or hanging issuer never blocks the event loop, whichever loop awaits it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt

log = logging.getLogger("service.auth")

#: Asymmetric algorithms only: a JWKS never legitimately carries an HMAC secret.
SUPPORTED_ALGORITHMS = frozenset({"RS256", "ES256"})

_LOOPBACK_NAMES = frozenset({"localhost"})


def _fields(**fields: Any) -> dict[str, Any]:
    """Structured log fields, as service.logs renders them."""
    return {"fields": fields}


class JwksFetchError(Exception):
    """The JWKS document could not be fetched or parsed."""


def validate_jwks_url(url: str) -> str:
    """Accept https, or plain http to a loopback address (tests, local emulators)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise ValueError(
        "AUTH_JWKS_URL must be an https:// URL (plain http only to a loopback address), "
        f"got {url!r}"
    )


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by `kid`; anything else is skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksFetchError("JWKS document has no 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(dict(entry))
        except jwt.PyJWTError:
            log.warning("jwks key skipped: unsupported or malformed", extra=_fields(kid=kid))
            continue
        if key.algorithm_name in SUPPORTED_ALGORITHMS:
            keys[kid] = key
    return keys


class JwksKeySet:
    """Signing keys from one JWKS URL, looked up by `kid`."""

    def __init__(
        self,
        url: str,
        *,
        http_timeout: float = 3.0,
        min_refresh_interval: float = 30.0,
        failure_retry_interval: float = 5.0,
        max_age: float = 3600.0,
        max_document_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if http_timeout <= 0:
            raise ValueError(f"http_timeout must be positive, got {http_timeout}")
        self.url = validate_jwks_url(url)
        self._http_timeout = http_timeout
        self._min_refresh_interval = min_refresh_interval
        self._failure_retry_interval = failure_retry_interval
        self._max_age = max_age
        self._max_document_bytes = max_document_bytes
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._last_attempt: float | None = None
        self._last_attempt_failed = False
        self._state_lock = threading.Lock()
        self._inflight: concurrent.futures.Future[None] | None = None
        #: How many fetches were started; observable so tests can prove the rate limit.
        self.fetch_count = 0

    async def get(self, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is not None and not self._is_stale():
            return key
        await self.refresh()
        return self._keys.get(kid)

    async def refresh(self) -> None:
        """Fetch the document again unless rate limited; waits for a fetch already under way."""
        with self._state_lock:
            pending = self._inflight
            if pending is None:
                if not self._may_refresh():
                    return
                pending = concurrent.futures.Future()
                self._inflight = pending
                self._last_attempt = self._clock()
                self.fetch_count += 1
                threading.Thread(
                    target=self._fetch_into, args=(pending,), name="jwks-fetch", daemon=True
                ).start()
        # shield: a cancelled request must not cancel the shared fetch other requests await.
        # The socket timeout bounds each read, not a trickling body: bound the wait as well.
        try:
            await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(pending)), timeout=2 * self._http_timeout
            )
        except TimeoutError:
            log.warning("jwks fetch still running after %.1fs", 2 * self._http_timeout)

    def _is_stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._max_age

    def _may_refresh(self) -> bool:
        if self._last_attempt is None:
            return True
        if self._last_attempt_failed:
            wait = self._failure_retry_interval
        else:
            wait = self._min_refresh_interval
        return self._clock() - self._last_attempt >= wait

    def _fetch_into(self, done: concurrent.futures.Future[None]) -> None:
        try:
            keys = parse_jwks(self._download())
        except Exception as error:  # a background thread must never wedge the key set
            # Keep serving the keys we have: an issuer hiccup must not log everyone out.
            log.warning(
                "jwks fetch failed: %s", type(error).__name__, extra=_fields(jwks_url=self.url)
            )
            with self._state_lock:
                self._last_attempt_failed = True
        else:
            with self._state_lock:
                self._keys = keys
                self._loaded_at = self._clock()
                self._last_attempt_failed = False
        finally:
            with self._state_lock:
                self._inflight = None
            done.set_result(None)

    def _download(self) -> Any:
        # The scheme was checked by validate_jwks_url: https, or http to loopback only.
        request = urllib.request.Request(  # noqa: S310
            self.url, headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self._http_timeout) as response:  # noqa: S310
            body = response.read(self._max_document_bytes + 1)
        if len(body) > self._max_document_bytes:
            raise JwksFetchError("JWKS document too large")
        return json.loads(body)
