"""The HTTP check's own request against real servers on loopback: aiohttp's server for answers as
a web framework writes them, and raw asyncio servers for what a framework would never send
(answers cut short, not HTTP, a body until close, interim answers, odd charsets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from test_coordinator.checks.http_request import MAX_BODY, HttpFailure, request

from tests.integration.checks.test_observe import run, serving

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A TCP server on loopback that answers with whatever ``handler`` writes; keeps what came."""

    def __init__(self, handler: Handler, *, read_first: bool = True) -> None:
        self.handler = handler
        self.read_first = read_first
        self.received: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.read_first:  # answers at once, whatever came (a TLS hello, say)
            await self.handler(reader, writer)
            writer.close()
            return
        head = await reader.readuntil(b"\r\n\r\n")
        lengths = [
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ]
        length = lengths[0] if lengths else 0
        self.received.append(head + (await reader.readexactly(length) if length else b""))
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()


def answering(data: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return handler


@pytest.fixture
async def chunked_server() -> AsyncIterator[str]:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        response.content_type = "text/plain"
        await response.prepare(request)
        for part in (b"orders: ", b"accepted", b" (risk ok)"):
            await response.write(part)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/chunked", chunked)
    async with serving(app) as address:
        yield address


async def test_a_chunked_body_is_read_whole(chunked_server: str) -> None:
    answer = await request("GET", f"http://{chunked_server}/chunked", read_body=True)
    assert (answer.status, answer.body) == (200, "orders: accepted (risk ok)")
    spec = {"http": {"address": chunked_server, "path": "/chunked", "bodyContains": "risk ok"}}
    assert (await run(spec)).passed


async def test_a_body_until_the_server_closes() -> None:
    async with RawServer(answering(b"HTTP/1.0 200 OK\r\n\r\nno length, then close")) as address:
        answer = await request("GET", f"http://{address}/", read_body=True)
    assert (answer.status, answer.body) == (200, "no length, then close")


async def test_the_body_is_decoded_by_its_charset() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n"
        b"Content-Length: 4\r\n\r\nd\xe9j\xe0"
    )
    async with RawServer(answering(data)) as address:
        assert (await request("GET", f"http://{address}/", read_body=True)).body == "déjà"


async def test_interim_answers_come_before_the_real_one() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    async with RawServer(answering(data)) as address:
        answer = await request("POST", f"http://{address}/orders", body="{}", read_body=True)
    assert (answer.status, answer.body) == (201, "ok")


async def test_a_post_sends_its_body_and_content_type_once() -> None:
    server = RawServer(answering(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"))
    async with server as address:
        spec = {"url": f"http://{address}/orders", "method": "POST", "body": '{"qty": 5}',
                "contentType": "application/json", "expectStatus": [202]}  # fmt: skip
        observation = await run({"http": spec})
    assert observation.passed, observation.observed
    [received] = server.received
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /orders HTTP/1.1"
    assert b"Content-Type: application/json" in lines and b"Content-Length: 10" in lines
    assert body == b'{"qty": 5}'


async def test_a_path_from_the_scenario_cannot_add_lines_to_the_request() -> None:
    server = RawServer(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    async with server as address:
        spec = {"address": address, "path": "/a b\r\nX-Injected: 1"}
        assert (await run({"http": spec})).passed
    [received] = server.received
    # As WHATWG URL parsing does, CR and LF are dropped; the rest is percent-encoded.
    assert received.split(b"\r\n")[0] == b"GET /a%20bX-Injected:%201 HTTP/1.1"
    assert b"X-Injected: 1" not in received


async def test_head_reads_no_body_although_one_is_announced() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # and then nothing, as HEAD
    async with RawServer(answering(data)) as address:
        answer = await asyncio.wait_for(
            request("HEAD", f"http://{address}/", read_body=True), timeout=5
        )
    assert (answer.status, answer.body) == (200, "")


async def test_a_body_is_read_up_to_its_limit() -> None:
    big = b"x" * (MAX_BODY + 10) + b"needle"
    data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    async with RawServer(answering(data)) as address:
        answer = await request("GET", f"http://{address}/", read_body=True)
    assert len(answer.body) == MAX_BODY and "needle" not in answer.body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "server disconnected"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "server disconnected"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ncut", "server disconnected"),
        (b"+PONG\r\n", "not an HTTP answer: '+PONG'"),
        (b"HTTP/1.1 2xx fine\r\n\r\n", "not an HTTP answer: 'HTTP/1.1 2xx fine'"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size 'zz'"),
    ],
)
async def test_a_bad_answer_is_a_failed_check_saying_what_was_wrong(
    data: bytes, reason: str
) -> None:
    async with RawServer(answering(data)) as address:
        observation = await run({"http": {"address": address, "bodyContains": "x"}})
    assert not observation.passed
    assert observation.observed == reason


async def test_https_to_a_plain_http_server_fails_with_the_tls_reason() -> None:
    server = RawServer(answering(b"HTTP/1.1 200 OK\r\n\r\n"), read_first=False)
    async with server as address:
        observation = await run({"http": {"url": f"https://{address}/"}})
    assert not observation.passed
    assert "wrong version number" in observation.observed, observation.observed


async def test_a_content_type_cannot_add_header_lines() -> None:
    with pytest.raises(HttpFailure, match="is not a header value"):
        await request("POST", "http://127.0.0.1:1/", body="{}", content_type="a/b\r\nX: 1")
