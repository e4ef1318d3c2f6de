"""The control API as Toxiproxy's clients call it: raw HTTP, its JSON shapes and its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from test_coordinator.proxy import FaultProxy, ProxyControl, ProxyControlError, ProxyServer

from tests.integration.proxy.conftest import Upstream, close, round_trip


class Api:
    """Raw requests: status and JSON, nothing interpreted."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def __call__(
        self, method: str, path: str, body: Any = None, **options: Any
    ) -> tuple[int, Any]:
        async with self.session.request(method, self.url + path, json=body, **options) as answer:
            text = await answer.text()
            return answer.status, (await answer.json(content_type=None)) if text else None


@pytest.fixture
async def api(proxy_server: ProxyServer) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, proxy_server.control_url)


async def test_version_names_the_lease_extension(api: Api) -> None:
    status, document = await api("GET", "/version")
    assert status == 200
    assert document["version"]
    assert document["extensions"] == ["leases"]


async def test_proxies_are_created_listed_shown_updated_and_deleted(
    api: Api, upstream: Upstream
) -> None:
    target = f"127.0.0.1:{upstream.port}"
    status, created = await api(
        "POST", "/proxies", {"name": "db", "listen": "127.0.0.1:0", "upstream": target}
    )
    assert status == 201
    assert created["name"] == "db"
    assert created["upstream"] == target
    assert created["enabled"] is True
    assert created["toxics"] == []
    host, port = created["listen"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0  # port 0 became a real one
    reader, writer = await asyncio.open_connection(host, int(port))
    await round_trip(reader, writer)
    await close(writer)

    status, listed = await api("GET", "/proxies")
    assert (status, listed) == (200, {"db": created})
    assert await api("GET", "/proxies/db") == (200, created)

    status, updated = await api("POST", "/proxies/db", {"enabled": False})
    assert (status, updated["enabled"]) == (200, False)
    status, updated = await api("PATCH", "/proxies/db", {"enabled": True})
    assert (status, updated["enabled"]) == (200, True)

    assert await api("DELETE", "/proxies/db") == (204, None)
    assert await api("GET", "/proxies") == (200, {})


async def test_toxics_are_created_listed_shown_updated_and_deleted(
    api: Api, proxy: FaultProxy
) -> None:
    status, created = await api(
        "POST", "/proxies/svc/toxics", {"type": "latency", "attributes": {"latency": 100}}
    )
    assert status == 200  # as Toxiproxy answers
    assert created == {
        "name": "latency_downstream",  # Toxiproxy's default name: type_stream
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 100, "jitter": 0},
    }
    assert await api("GET", "/proxies/svc/toxics") == (200, [created])
    assert await api("GET", "/proxies/svc/toxics/latency_downstream") == (200, created)
    status, shown = await api("GET", "/proxies/svc")
    assert shown["toxics"] == [created]

    status, updated = await api(
        "POST", "/proxies/svc/toxics/latency_downstream", {"attributes": {"jitter": 10}}
    )
    assert status == 200
    assert updated["attributes"] == {"latency": 100, "jitter": 10}  # what is left out stays
    status, updated = await api(
        "PATCH", "/proxies/svc/toxics/latency_downstream", {"toxicity": 0.5}
    )
    assert (updated["toxicity"], updated["attributes"]["jitter"]) == (0.5, 10)

    assert await api("DELETE", "/proxies/svc/toxics/latency_downstream") == (204, None)
    assert await api("GET", "/proxies/svc/toxics") == (200, [])


async def test_every_toxic_type_with_its_defaults(api: Api, proxy: FaultProxy) -> None:
    expected = {
        "latency": {"latency": 0, "jitter": 0},
        "bandwidth": {"rate": 0},
        "timeout": {"timeout": 0},
        "reset_peer": {"timeout": 0},
    }
    for toxic_type, attributes in expected.items():
        status, created = await api(
            "POST", "/proxies/svc/toxics", {"type": toxic_type, "stream": "upstream"}
        )
        assert status == 200
        assert (created["name"], created["attributes"]) == (f"{toxic_type}_upstream", attributes)


async def test_reset_removes_every_toxic_and_enables_every_proxy(
    api: Api, proxy: FaultProxy
) -> None:
    await api("POST", "/proxies/svc/toxics", {"type": "timeout"})
    await api("POST", "/proxies/svc", {"enabled": False})
    assert await api("POST", "/reset") == (204, None)
    _status, shown = await api("GET", "/proxies/svc")
    assert (shown["enabled"], shown["toxics"]) == (True, [])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/proxies/nope", None, 404, "proxy not found"),
        ("DELETE", "/proxies/nope", None, 404, "proxy not found"),
        ("GET", "/proxies/nope/toxics", None, 404, "proxy not found"),
        ("GET", "/proxies/svc/toxics/nope", None, 404, "toxic not found"),
        ("POST", "/proxies/svc/toxics/nope", {}, 404, "toxic not found"),
        ("DELETE", "/proxies/svc/toxics/nope", None, 404, "toxic not found"),
        ("POST", "/proxies", {"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ("POST", "/proxies", {"name": "x"}, 400, "missing required field: upstream"),
        ("POST", "/proxies", {"name": "x", "upstream": "nowhere"}, 400, "upstream: expected"),
        ("POST", "/proxies/svc/toxics", {"type": "slicer"}, 400, "invalid toxic type"),
        ("POST", "/proxies/svc/toxics", {"type": "timeout", "stream": "sideways"}, 400,
         "stream was invalid"),
        ("POST", "/proxies/svc/toxics", {"type": "latency", "attributes": {"delay": 1}}, 400,
         "latency has no attribute 'delay'"),
        ("POST", "/proxies/svc/toxics", {"type": "latency", "attributes": {"latency": -1}},
         400, "attributes.latency: expected a whole number"),
        ("POST", "/proxies/svc/toxics", {"type": "timeout", "toxicity": 2}, 400,
         "toxicity: expected a number from 0 to 1"),
        ("POST", "/proxies/svc/toxics", {"type": "timeout", "lease_seconds": 0}, 400,
         "lease_seconds: expected a number of seconds above 0"),
        ("POST", "/proxies/svc/toxics", [], 400, "bad request body"),
        ("GET", "/nothing-here", None, 404, "Not Found"),
        ("PUT", "/proxies", None, 405, "Method Not Allowed"),
    ],
)  # fmt: skip
async def test_errors_are_json_as_toxiproxy_writes_them(
    api: Api, proxy: FaultProxy, method: str, path: str, body: Any, status: int, error: str
) -> None:
    answered, document = await api(method, path, body)
    assert answered == status
    assert document["status"] == status
    assert error in document["error"]


async def test_a_body_that_is_not_json_is_refused(api: Api, proxy: FaultProxy) -> None:
    async with api.session.post(api.url + "/proxies/svc/toxics", data=b"{nope") as answer:
        assert answer.status == 400
        assert (await answer.json())["error"].startswith("bad request body")


async def test_conflicts(api: Api, proxy: FaultProxy, upstream: Upstream) -> None:
    body = {"name": "svc", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream.port}"}
    assert await api("POST", "/proxies", body) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )
    await api("POST", "/proxies/svc/toxics", {"type": "timeout"})
    assert await api("POST", "/proxies/svc/toxics", {"type": "timeout"}) == (
        409,
        {"error": "toxic already exists", "status": 409},
    )


async def test_a_port_in_use_is_an_error_not_a_crash(api: Api, proxy: FaultProxy) -> None:
    taken = f"127.0.0.1:{proxy.listen[1]}"
    status, document = await api(
        "POST", "/proxies", {"name": "twin", "listen": taken, "upstream": "127.0.0.1:1"}
    )
    assert status == 500
    assert f"cannot listen on {taken}" in document["error"]
    assert (await api("GET", "/proxies/twin"))[0] == 404


async def test_browsers_are_refused(api: Api) -> None:
    status, document = await api(
        "GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    )
    assert (status, document["status"]) == (403, 403)


async def test_the_client_reads_the_same_api(control: ProxyControl, upstream: Upstream) -> None:
    created = await control.create_proxy(
        "db", listen="127.0.0.1:0", upstream=f"127.0.0.1:{upstream.port}"
    )
    assert (await control.proxies())["db"] == created
    assert (await control.update_proxy("db", enabled=False)).enabled is False
    with pytest.raises(ProxyControlError) as refused:
        await control.proxy("nope")
    assert refused.value.status == 404
    assert "proxy not found" in str(refused.value)
    await control.delete_proxy("db")
    assert await control.proxies() == {}


async def test_the_client_says_when_nothing_answers() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with ProxyControl(f"http://127.0.0.1:{port}") as control:
        with pytest.raises(ProxyControlError) as unreachable:
            await control.proxies()
    assert unreachable.value.status is None
    assert f"fault proxy at http://127.0.0.1:{port}" in str(unreachable.value)
