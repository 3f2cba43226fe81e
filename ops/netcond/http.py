"""An httpx transport whose TCP connections go through a conditioner, whatever the URL says.

TLS, SNI and the Host header still use the URL's own host name, so an `https://` deployed stack
can be reached through a local conditioner without certificate tricks: only the TCP connect is
redirected to the proxy's loopback address.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx


class _RedirectingBackend(httpcore.AsyncNetworkBackend):
    """Connects every TCP stream to one fixed address (the conditioner)."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(
            self._host,
            self._port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class ConditionedTransport(httpx.AsyncBaseTransport):
    """Send every request over connections to `proxy_host:proxy_port` (bodies are read fully)."""

    def __init__(
        self,
        proxy_host: str,
        proxy_port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or ssl.create_default_context(),
            max_connections=max_connections,
            network_backend=_RedirectingBackend(proxy_host, proxy_port),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            core_response = await self._pool.handle_async_request(core_request)
            content = await core_response.aread()
            await core_response.aclose()
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc), request=request) from exc
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except httpcore.ReadError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        except httpcore.WriteError as exc:
            raise httpx.WriteError(str(exc), request=request) from exc
        except httpcore.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            content=content,
            extensions={"http_version": core_response.extensions.get("http_version", b"HTTP/1.1")},
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
