"""One HTTP/1.1 request on a connection of its own, as an HTTP check makes it: the status, and
the body when asked for.

Not a general client: it follows no redirect (a check judges the answer it got), keeps no
connection (one kept from before a restart would turn into a spurious "server disconnected"),
and reads at most ``MAX_BODY`` of a body. A check needs nothing more, and a general client costs
a quarter of a second to import (aiohttp): a tenth of a whole CLI run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlsplit

__all__ = ["MAX_BODY", "Answer", "HttpFailure", "request"]

MAX_BODY = 1 << 20
"""Bytes of a body read at most: what a ``bodyContains`` looks at."""

_LINE_LIMIT = 64 * 1024  # a status or header line longer than this is no answer
_SAFE_IN_TARGET = "/?&=%:@!$'()*+,;~-._[]"  # kept as written; anything else percent-encoded


class HttpFailure(Exception):
    """The exchange failed in a way that is the server's (or the URL's): the check's reason."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


async def request(
    method: str,
    url: str,
    *,
    body: str | None = None,
    content_type: str = "application/json",
    read_body: bool = False,
) -> Answer:
    """Send one request and read the answer (its body too if ``read_body``).

    Connection errors are raised as they come (``OSError``: refused, reset, DNS, TLS); an answer
    that is cut short or not HTTP is ``HttpFailure``.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise HttpFailure(f"invalid URL {url[:80]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpFailure(f"invalid URL {url[:80]!r}")
    tls = parts.scheme == "https"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    target = quote(parts.path or "/", safe=_SAFE_IN_TARGET)
    if parts.query:
        target += "?" + quote(parts.query, safe=_SAFE_IN_TARGET)
    head = [
        f"{method} {target} HTTP/1.1",
        f"Host: {host}" + (f":{port}" if port is not None else ""),
        "Connection: close",
        "Accept: */*",
        "User-Agent: test-coordinator",
    ]
    payload = b"" if body is None else body.encode()
    if body is not None:
        if any(c in content_type for c in "\r\n\0"):
            raise HttpFailure(f"content type {content_type[:40]!r} is not a header value")
        head.append(f"Content-Type: {content_type}")
    if body is not None or method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(payload)}")
    try:
        request_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
    except UnicodeEncodeError:
        raise HttpFailure(f"content type {content_type[:40]!r} is not a header value") from None

    reader, writer = await asyncio.open_connection(
        parts.hostname,
        port if port is not None else (443 if tls else 80),
        ssl=_tls_context() if tls else None,
        limit=_LINE_LIMIT,
    )
    try:
        writer.write(request_bytes)
        await writer.drain()
        status, headers = await _read_head(reader)
        while 100 <= status < 200:  # interim answers (100 Continue) come before the real one
            status, headers = await _read_head(reader)
        no_body = method == "HEAD" or status in (204, 304)
        text = await _read_body(reader, headers) if read_body and not no_body else ""
        return Answer(status, text)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


@cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise HttpFailure("server disconnected") from None
    except asyncio.LimitOverrunError:
        raise HttpFailure(f"a line of the answer is longer than {_LINE_LIMIT} bytes") from None
    return line.rstrip(b"\r\n")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status code and the headers (names lower-cased) of one answer."""
    status_line = await _read_line(reader)
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise HttpFailure(f"not an HTTP answer: {status_line[:40].decode('latin-1')!r}")
    headers: dict[str, str] = {}
    while line := await _read_line(reader):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(code), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> str:
    """The body, decoded by its charset (UTF-8 if none or unknown), at most ``MAX_BODY``."""
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            data = await _read_chunks(reader)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise HttpFailure(f"bad Content-Length {length[:20]!r}")
            data = await reader.readexactly(min(int(length), MAX_BODY))
        else:  # the body is what comes until the server closes
            data = await reader.read(MAX_BODY)
            while len(data) < MAX_BODY and (more := await reader.read(MAX_BODY - len(data))):
                data += more
    except asyncio.IncompleteReadError:
        raise HttpFailure("server disconnected") from None
    charset = "utf-8"
    for parameter in headers.get("content-type", "").split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while len(data) < MAX_BODY:
        size_line = (await _read_line(reader)).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpFailure(f"bad chunk size {size_line[:20].decode('latin-1')!r}") from None
        if size == 0:
            break
        data += await reader.readexactly(min(size, MAX_BODY - len(data)))
        if len(data) < MAX_BODY:
            await _read_line(reader)  # the chunk's CRLF
    return data[:MAX_BODY]
