"""The HTTP API of ``serve``: health, the scenarios (list, get, put, delete, abort) and metrics.

    GET    /api/v1/health                      200 while serving, 503 while draining
    GET    /api/v1/scenarios                   every scenario: spec and status
    GET    /api/v1/scenarios/{name}            one
    PUT    /api/v1/scenarios/{name}            YAML or JSON body: validated, written into the
                                               directory, reconciled
    DELETE /api/v1/scenarios/{name}            its file removed; its run aborted, faults undone
    POST   /api/v1/scenarios/{name}/abort      its runs aborted
    GET    /metrics                            Prometheus

Whoever may write here may crash the system under test: the mutating calls need the bearer
token when one is configured, and are refused altogether (read-only) when the service listens
beyond loopback without one. Every error is JSON; a refused request is logged with its source
address, never with the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from ruamel.yaml import YAML

from test_coordinator.errors import ScenarioInvalid, TestCoordinatorError
from test_coordinator.reconcile.metrics import Metrics
from test_coordinator.scenario.loading import parse_scenario
from test_coordinator.scenario.reading import load_document
from test_coordinator.service.catalog import Catalog, Scenario
from test_coordinator.service.files import NAME_MAX, Signature, plain, spec_hash, valid_name

__all__ = ["MAX_BODY", "Access", "ServiceState", "add_api"]

MAX_BODY = 1024 * 1024
SETTLE_SECONDS = 3.0  # a PUT answers with the scenario as reconciled, or as it is by then
BODY_SOURCE = "request body"

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Access:
    """Who may change scenarios: the holder of ``token``; nobody when ``read_only``."""

    token: str | None
    read_only: bool

    def refusal(self, request: web.Request) -> web.Response | None:
        if self.read_only:
            return _error(
                403,
                "read-only: this service listens beyond loopback without an API token "
                "(--api-token-file), so it changes nothing",
            )
        if self.token is None:
            return None
        given = request.headers.get("Authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        ):
            return None
        response = _error(401, "a valid bearer token is required (Authorization: Bearer …)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="test-coordinator"'
        return response


@dataclass
class ServiceState:
    """What health answers."""

    name: str
    version: str
    platform: str
    serving: bool = False
    injection: Callable[[], tuple[bool, str]] = lambda: (True, "the default")


def add_api(
    app: web.Application,
    catalog: Catalog,
    *,
    access: Access,
    state: ServiceState,
    metrics: Metrics,
) -> None:
    api = _Api(catalog, access, state, metrics)
    app.middlewares.append(_json_errors)
    app.router.add_get("/api/v1/health", api.health)
    app.router.add_get("/api/v1/scenarios", api.list)
    app.router.add_get("/api/v1/scenarios/{name}", api.get)
    app.router.add_put("/api/v1/scenarios/{name}", api.guarded(api.put))
    app.router.add_delete("/api/v1/scenarios/{name}", api.guarded(api.delete))
    app.router.add_post("/api/v1/scenarios/{name}/abort", api.guarded(api.abort))
    app.router.add_get("/metrics", api.metrics_text)


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (no route, wrong method, a body too large) as JSON too."""
    try:
        return await handler(request)
    except _HttpError as error:
        return _error(error.status, error.message)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"the body is larger than {MAX_BODY} bytes")
    except web.HTTPException as error:
        if error.status < 400 or not request.path.startswith("/api/"):
            raise
        return _error(error.status, error.reason)


class _Api:
    def __init__(
        self, catalog: Catalog, access: Access, state: ServiceState, metrics: Metrics
    ) -> None:
        self.catalog = catalog
        self.access = access
        self.state = state
        self.metrics = metrics

    def guarded(self, handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            refused = self.access.refusal(request)
            if refused is not None:
                log.warning(
                    "refused %s %s from %s: %s",
                    request.method,
                    request.path,
                    request.remote,
                    refused.status,
                )
                return refused
            return await handler(request)

        return checked

    async def health(self, request: web.Request) -> web.Response:
        enabled, source = self.state.injection()
        body = {
            "status": "healthy" if self.state.serving else "draining",
            "service": self.state.name,
            "version": self.state.version,
            "platform": self.state.platform,
            "scenarios": len(self.catalog.scenarios),
            "runs": sum(len(s.reconciler.runs) for s in self.catalog),
            "chaos_injection_enabled": enabled,
            "chaos_injection_source": source,
        }
        return web.json_response(body, status=200 if self.state.serving else 503)

    async def list(self, request: web.Request) -> web.Response:
        items = [_scenario_json(scenario) for scenario in self.catalog]
        return web.json_response({"items": items, "problems": self.catalog.problems()})

    async def get(self, request: web.Request) -> web.Response:
        scenario = self._scenario(request)
        return web.json_response(_scenario_json(scenario))

    async def put(self, request: web.Request) -> web.Response:
        name = _name(request)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"the body is larger than {MAX_BODY} bytes")
        raw = await request.read()
        if len(raw) > MAX_BODY:
            return _error(413, f"the body is larger than {MAX_BODY} bytes")
        try:
            data, text = _parse_body(raw, json_body="json" in request.content_type)
            scenario = parse_scenario(data, source=BODY_SOURCE)
        except ScenarioInvalid as error:
            return _error(400, "invalid scenario", problems=error.problems)
        if scenario.metadata.name != name:
            problem = f"{BODY_SOURCE}: metadata.name: expected {name!r} (the URL's), got "
            return _error(
                400, "invalid scenario", problems=[problem + repr(scenario.metadata.name)]
            )
        existing = self.catalog.scenarios.get(name)
        filename = existing.file.path.name if existing is not None else f"{name}.yaml"
        held = self.catalog.files.get(self.catalog.directory.path / filename)
        if existing is None and held is not None and held.name not in (None, name):
            return _error(409, f"{filename} holds scenario {held.name!r}: not overwritten")
        async with self.catalog.write_lock:
            try:
                path = self.catalog.directory.write(filename, text)
            except (OSError, TestCoordinatorError) as error:
                return _error(409, f"cannot write {filename}: {error}")
        if existing is not None:  # the status is the service's: kept in the new file
            await existing.host.write_status(existing.reconciler.compose())
        scenario_now = await self._reconciled(name, path, spec_hash(plain(data).get("spec")))
        body = _scenario_json(scenario_now) if scenario_now is not None else {"name": name}
        log.info("scenario %s applied through the API by %s", name, request.remote)
        return web.json_response(body, status=200 if existing is not None else 201)

    async def _reconciled(self, name: str, path: Path, expected: str) -> Scenario | None:
        """The scenario once the catalog has read the spec just written (a status written
        meanwhile changes the file again: each version is whole, so it is read at once)."""
        deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
        while True:
            with contextlib.suppress(FileNotFoundError):
                self.catalog.poke(path, Signature.of(os.lstat(path)))
            await self.catalog.sync()
            scenario = self.catalog.scenarios.get(name)
            done = scenario is not None and scenario.file.spec_hash == expected
            if done or asyncio.get_running_loop().time() > deadline:
                return scenario
            await asyncio.sleep(0.05)

    async def delete(self, request: web.Request) -> web.Response:
        scenario = self._scenario(request)
        aborted = list(scenario.reconciler.runs)
        async with self.catalog.write_lock:
            self.catalog.directory.remove(scenario.file.path.name)
        release = self.catalog.release(
            scenario.name, f"deleted through the API by {request.remote}"
        )
        if release is not None:
            await release  # the runs aborted and their faults undone before the answer
        log.info("scenario %s deleted through the API by %s", scenario.name, request.remote)
        return web.json_response({"deleted": scenario.name, "aborted": aborted})

    async def abort(self, request: web.Request) -> web.Response:
        scenario = self._scenario(request)
        aborted = scenario.reconciler.request_abort(
            f"requested through the API by {request.remote}"
        )
        return web.json_response({"name": scenario.name, "aborted": aborted})

    async def metrics_text(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), content_type="text/plain", charset="utf-8"
        )

    def _scenario(self, request: web.Request) -> Scenario:
        name = _name(request)
        scenario = self.catalog.scenarios.get(name)
        if scenario is None:
            raise _HttpError(404, f"no scenario {name!r}")
        return scenario


class _HttpError(Exception):
    """An error answered as JSON (see ``_json_errors``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not valid_name(name):
        raise _HttpError(
            400,
            f"not a scenario name: expected a DNS-1123 name (lower case letters, digits and "
            f"'-', at most {NAME_MAX}), got {name!r}",
        )
    return name


def _parse_body(raw: bytes, *, json_body: bool) -> tuple[Any, str]:
    """The document, and the text to write: YAML as sent (comments kept), JSON as YAML; a
    status in the body is dropped (the status is the service's)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioInvalid(f"{BODY_SOURCE}: not UTF-8 text") from None
    if json_body:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ScenarioInvalid(f"{BODY_SOURCE}: malformed JSON: {error}") from None
        return data, _yaml_text(data) if isinstance(data, dict) else text
    tree = load_document(text, source=BODY_SOURCE, plain_values=True).data  # a file's limits
    data = plain(tree)
    if isinstance(tree, dict) and "status" in tree:
        del tree["status"]
        return data, _yaml_text(tree)
    return data, text if text.endswith("\n") else text + "\n"


def _yaml_text(document: Any) -> str:
    if isinstance(document, dict):
        document = {key: value for key, value in document.items() if key != "status"}
    yaml = YAML(typ="rt")
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    document = dict(scenario.file.document or {})
    status = scenario.reconciler.compose().model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        **document,
        "status": status,
        "file": scenario.file.path.name,
        "generation": scenario.generation,
        "problem": scenario.file.problem,
    }


def _error(status: int, message: str, *, problems: list[str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message, "status": status}
    if problems:
        body["problems"] = problems
    return web.json_response(body, status=status)
