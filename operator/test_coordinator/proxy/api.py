"""The control API: Toxiproxy's HTTP API for the toxics implemented, plus leases.

    GET    /version                         {"version", "server", "extensions": ["leases"]}
    GET    /proxies                         {name: proxy}
    POST   /proxies                         create: {name, listen, upstream, enabled} -> 201
    GET    /proxies/{proxy}                 the proxy with its toxics
    POST   /proxies/{proxy}                 update listen, upstream, enabled (PATCH too)
    DELETE /proxies/{proxy}                 -> 204
    GET    /proxies/{proxy}/toxics          [toxic]
    POST   /proxies/{proxy}/toxics          create a toxic -> 200, as Toxiproxy answers
    GET    /proxies/{proxy}/toxics/{toxic}
    POST   /proxies/{proxy}/toxics/{toxic}  attributes, toxicity; renews the lease (PATCH too)
    DELETE /proxies/{proxy}/toxics/{toxic}  -> 204; with ?holder=H, 409 if another holder's
    POST   /reset                           every proxy enabled, every toxic removed -> 204

Errors are ``{"error": message, "status": code}``, as Toxiproxy's. As Toxiproxy does, requests
from web browsers are refused, so that a page cannot reach the API through a user's browser.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from aiohttp import web

from test_coordinator.proxy.addresses import Address, parse_address
from test_coordinator.proxy.errors import Refused

if TYPE_CHECKING:
    from test_coordinator.proxy.server import ProxyServer

__all__ = ["LEASES", "control_app"]

log = logging.getLogger(__name__)

LEASES = "leases"  # the extension's name in /version
_SERVER: web.AppKey[ProxyServer] = web.AppKey("server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def control_app(server: ProxyServer) -> web.Application:
    app = web.Application(middlewares=[_errors_as_json])
    app[_SERVER] = server
    routes = [
        ("GET", "/version", _version),
        ("GET", "/proxies", _proxies),
        ("POST", "/proxies", _create_proxy),
        ("GET", "/proxies/{proxy}", _show_proxy),
        ("POST", "/proxies/{proxy}", _update_proxy),
        ("PATCH", "/proxies/{proxy}", _update_proxy),
        ("DELETE", "/proxies/{proxy}", _delete_proxy),
        ("GET", "/proxies/{proxy}/toxics", _toxics),
        ("POST", "/proxies/{proxy}/toxics", _create_toxic),
        ("GET", "/proxies/{proxy}/toxics/{toxic}", _show_toxic),
        ("POST", "/proxies/{proxy}/toxics/{toxic}", _update_toxic),
        ("PATCH", "/proxies/{proxy}/toxics/{toxic}", _update_toxic),
        ("DELETE", "/proxies/{proxy}/toxics/{toxic}", _delete_toxic),
        ("POST", "/reset", _reset),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return _error("User agent not allowed", 403)
    try:
        return await handler(request)
    except Refused as refused:
        return _error(refused.message, refused.status)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        return _error(http.reason, http.status)
    except Exception as error:
        log.exception("control API: %s %s failed", request.method, request.path)
        return _error(f"{type(error).__name__}: {error}", 500)


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


async def _body(request: web.Request) -> Mapping[str, Any]:
    try:
        document = json.loads(await request.read() or b"{}")
    except ValueError as error:
        raise Refused(f"bad request body: {error}", status=400) from None
    if not isinstance(document, Mapping):
        raise Refused("bad request body: expected a JSON object", status=400)
    return document


def _address(document: Mapping[str, Any], field: str, default: str | None = None) -> Address:
    value = document.get(field, default)
    if not isinstance(value, str) or not value:
        raise Refused(f"missing required field: {field}", status=400)
    try:
        return parse_address(value)
    except ValueError as error:
        raise Refused(f"bad request body: {field}: {error}", status=400) from None


def _enabled(document: Mapping[str, Any], default: bool | None) -> bool | None:
    value = document.get("enabled", default)
    if value is not None and not isinstance(value, bool):
        raise Refused(
            f"bad request body: enabled: expected true or false, got {value!r}", status=400
        )
    return value


async def _version(request: web.Request) -> web.Response:
    server = request.app[_SERVER]
    document: dict[str, Any] = {"version": _package_version()}
    if server.leases:  # as Toxiproxy answers, without the extension
        document |= {"server": "test-coordinator", "extensions": [LEASES]}
    return web.json_response(document)


def _package_version() -> str:
    try:
        return metadata.version("test-coordinator")
    except metadata.PackageNotFoundError:
        return "unknown"


async def _proxies(request: web.Request) -> web.Response:
    proxies = request.app[_SERVER].proxies
    return web.json_response({name: proxy.to_json() for name, proxy in proxies.items()})


async def _create_proxy(request: web.Request) -> web.Response:
    document = await _body(request)
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise Refused("missing required field: name", status=400)
    upstream = _address(document, "upstream")
    listen = _address(document, "listen", "127.0.0.1:0")
    enabled = _enabled(document, True)
    proxy = await request.app[_SERVER].create_proxy(
        name, listen=listen, upstream=upstream, enabled=bool(enabled)
    )
    return web.json_response(proxy.to_json(), status=201)


async def _show_proxy(request: web.Request) -> web.Response:
    return web.json_response(request.app[_SERVER].proxy(request.match_info["proxy"]).to_json())


async def _update_proxy(request: web.Request) -> web.Response:
    proxy = request.app[_SERVER].proxy(request.match_info["proxy"])
    document = await _body(request)
    await proxy.update(
        listen=_address(document, "listen") if "listen" in document else None,
        upstream=_address(document, "upstream") if "upstream" in document else None,
        enabled=_enabled(document, None),
    )
    return web.json_response(proxy.to_json())


async def _delete_proxy(request: web.Request) -> web.Response:
    await request.app[_SERVER].delete_proxy(request.match_info["proxy"])
    return web.Response(status=204)


async def _toxics(request: web.Request) -> web.Response:
    proxy = request.app[_SERVER].proxy(request.match_info["proxy"])
    return web.json_response([proxy.toxic_json(toxic) for toxic in proxy.toxics])


async def _create_toxic(request: web.Request) -> web.Response:
    proxy = request.app[_SERVER].proxy(request.match_info["proxy"])
    toxic = proxy.add_toxic(await _body(request))
    return web.json_response(proxy.toxic_json(toxic))


async def _show_toxic(request: web.Request) -> web.Response:
    proxy = request.app[_SERVER].proxy(request.match_info["proxy"])
    return web.json_response(proxy.toxic_json(proxy.toxic(request.match_info["toxic"])))


async def _update_toxic(request: web.Request) -> web.Response:
    proxy = request.app[_SERVER].proxy(request.match_info["proxy"])
    toxic = proxy.update_toxic(request.match_info["toxic"], await _body(request))
    return web.json_response(proxy.toxic_json(toxic))


async def _delete_toxic(request: web.Request) -> web.Response:
    proxy = request.app[_SERVER].proxy(request.match_info["proxy"])
    proxy.remove_toxic(request.match_info["toxic"], holder=request.query.get("holder"))
    return web.Response(status=204)


async def _reset(request: web.Request) -> web.Response:
    await request.app[_SERVER].reset()
    return web.Response(status=204)
