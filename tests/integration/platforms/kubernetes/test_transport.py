"""The API client's wire (aiohttp under httpx's transport interface) against real HTTP and
HTTPS servers on loopback: what is sent arrives as sent, what is answered comes back as
answered (streamed where it is a stream), its pool keeps its bound, TLS is the kubeconfig's,
and aiohttp's failures reach the retrying transport as the httpx errors it retries."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx2
import pytest
from aiohttp import web
from lightkube.resources.core_v1 import Pod
from test_coordinator.platforms.kubernetes import RetryPolicy, connect
from test_coordinator.platforms.kubernetes.transport import AiohttpTransport

from tests.conftest import free_port
from tests.integration.kube import write_kubeconfig
from tests.integration.loopback import serving

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Starts a loopback server answering every path with ``handler``; returns its base URL."""
    async with contextlib.AsyncExitStack() as servers:

        async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> str:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            address = await servers.enter_async_context(serving(app, tls=tls))
            return f"{'https' if tls else 'http'}://{address}"

        yield start


@pytest.fixture
async def wire() -> AsyncIterator[Callable[..., httpx2.AsyncClient]]:
    clients: list[httpx2.AsyncClient] = []

    def make(*, connections: int | None = 10, timeout: float = 5.0) -> httpx2.AsyncClient:
        transport = AiohttpTransport(ssl.create_default_context(), connections=connections)
        clients.append(httpx2.AsyncClient(transport=transport, timeout=timeout))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def test_a_request_arrives_as_sent_and_its_answer_comes_back_as_answered(
    serve: Callable[..., Awaitable[str]], wire: Callable[..., httpx2.AsyncClient]
) -> None:
    seen: list[tuple[str, str, str, str | None, bytes]] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            (
                request.method,
                request.path_qs,
                request.headers["Content-Type"],
                request.headers.get("Authorization"),
                body,
            )
        )
        return web.Response(
            status=201, body=b'{"kind": "Pod"}', headers={"X-Echo": "yes"}, reason="Made"
        )

    base = await serve(echo)
    patch = b'{"metadata": {"labels": {"a": "b"}}}'
    response = await wire().patch(
        f"{base}/api/v1/namespaces/ns/pods/p?fieldManager=tc",
        content=patch,
        headers={"Content-Type": "application/merge-patch+json", "Authorization": "Bearer t"},
    )

    assert seen == [
        (
            "PATCH",
            "/api/v1/namespaces/ns/pods/p?fieldManager=tc",
            "application/merge-patch+json",
            "Bearer t",
            patch,
        )
    ]
    assert (response.status_code, response.reason_phrase) == (201, "Made")
    assert response.headers["X-Echo"] == "yes"
    assert response.json() == {"kind": "Pod"}


async def test_a_compressed_answer_is_decoded_once(
    serve: Callable[..., Awaitable[str]], wire: Callable[..., httpx2.AsyncClient]
) -> None:
    document = {"items": [{"name": f"pod-{i}"} for i in range(100)]}

    async def compressed(request: web.Request) -> web.Response:
        assert "gzip" in request.headers["Accept-Encoding"]
        packed = gzip.compress(json.dumps(document).encode())
        return web.Response(body=packed, headers={"Content-Encoding": "gzip"})

    response = await wire().get(await serve(compressed))

    assert response.json() == document


async def test_a_watch_is_read_as_it_is_written(
    serve: Callable[..., Awaitable[str]], wire: Callable[..., httpx2.AsyncClient]
) -> None:
    first_read = asyncio.Event()

    async def watch(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"type": "ADDED"}\n')
        await first_read.wait()  # the second event only once the first has been read
        await response.write(b'{"type": "DELETED"}\n')
        await response.write_eof()
        return response

    lines = []
    async with wire(connections=None).stream("GET", await serve(watch)) as response:
        async for line in response.aiter_lines():
            lines.append(json.loads(line)["type"])
            first_read.set()

    assert lines == ["ADDED", "DELETED"]


async def test_the_pool_opens_no_more_connections_than_its_bound(
    serve: Callable[..., Awaitable[str]], wire: Callable[..., httpx2.AsyncClient]
) -> None:
    open_now, most = 0, 0
    peers: set[object] = set()

    async def slow(request: web.Request) -> web.Response:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await asyncio.sleep(0.02)
        open_now -= 1
        return web.Response(text="ok")

    base = await serve(slow)
    client = wire(connections=3)
    answers = await asyncio.gather(*(client.get(f"{base}/{i}") for i in range(30)))

    assert [a.text for a in answers] == ["ok"] * 30
    assert most == 3
    assert len(peers) == 3  # and it kept them: 30 requests over 3 connections


async def test_refused_is_a_connect_error(wire: Callable[..., httpx2.AsyncClient]) -> None:
    with pytest.raises(httpx2.ConnectError):
        await wire().get(f"http://127.0.0.1:{free_port()}/")


async def test_an_answer_late_past_the_read_timeout_is_a_read_timeout(
    serve: Callable[..., Awaitable[str]], wire: Callable[..., httpx2.AsyncClient]
) -> None:
    timed_out = asyncio.Event()

    async def late(request: web.Request) -> web.Response:
        await timed_out.wait()
        return web.Response(text="too late")

    base = await serve(late)
    with pytest.raises(httpx2.ReadTimeout):
        await wire(timeout=0.2).get(base)
    timed_out.set()  # the server's shutdown waits for its handlers


async def test_a_connection_dropped_before_or_during_the_answer_is_a_protocol_error(
    serve: Callable[..., Awaitable[str]], wire: Callable[..., httpx2.AsyncClient]
) -> None:
    async def hang_up(request: web.Request) -> web.StreamResponse:
        if request.path == "/midway":
            response = web.StreamResponse(headers={"Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    base = await serve(hang_up)
    client = wire()
    with pytest.raises(httpx2.RemoteProtocolError):
        await client.get(f"{base}/before")
    with pytest.raises(httpx2.RemoteProtocolError):
        await client.get(f"{base}/midway")


def certificates(where: Path) -> dict[str, Path]:
    """A CA, and a server (127.0.0.1) and a client certificate it signed (openssl)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=where)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-addext", "keyUsage=critical,keyCertSign", "-keyout", "ca.key", "-out", "ca.crt",
    )  # fmt: skip
    # What a strict verifier (Python 3.13's default) asks of a signed certificate.
    signed = "basicConstraints=CA:FALSE\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1\n"), ("client", "")):
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr",
        )  # fmt: skip
        (where / f"{name}.cnf").write_text(signed + extension)
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-extfile", f"{name}.cnf", "-days", "1", "-out", f"{name}.crt",
        )  # fmt: skip
    return {
        name: where / name
        for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
    }


async def test_tls_is_as_the_kubeconfig_says(
    serve: Callable[..., Awaitable[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = certificates(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["ca.crt"])
    server_tls.load_cert_chain(files["server.crt"], files["server.key"])
    server_tls.verify_mode = ssl.CERT_REQUIRED  # the user's client certificate, or no answer
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "risk-0", "namespace": "ns"}}
    asked: list[str | None] = []

    async def api(request: web.Request) -> web.Response:
        asked.append(request.headers.get("Authorization"))
        return web.json_response(pod)

    base = await serve(api, server_tls)

    def data(name: str) -> str:
        return base64.b64encode(files[name].read_bytes()).decode()

    def kubeconfig(*, with_ca: bool) -> Path:
        cluster = {
            "server": base,
            **({"certificate-authority-data": data("ca.crt")} if with_ca else {}),
        }
        user = {
            "client-certificate-data": data("client.crt"),
            "client-key-data": data("client.key"),
            "token": "s3cret",
        }
        return write_kubeconfig(tmp_path / f"kubeconfig-{with_ca}", cluster=cluster, user=user)

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(with_ca=True)))
    client = connect()
    try:
        found = await client.get(Pod, "risk-0", namespace="ns")
    finally:
        await client.close()
    assert found.metadata is not None and found.metadata.name == "risk-0"
    assert asked == ["Bearer s3cret"]

    # A server whose certificate the kubeconfig's CA did not sign is never trusted.
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(with_ca=False)))
    client = connect(policy=RetryPolicy(budget=0.1, minimum=0.1))
    try:
        with pytest.raises(httpx2.ConnectError, match="certificate verify failed"):
            await client.get(Pod, "risk-0", namespace="ns")
    finally:
        await client.close()
    assert asked == ["Bearer s3cret"]
