"""The API client's pod delete, sent straight onto its transport: against a real HTTP server on
loopback, the same request as lightkube's own delete, its authentication (a token file read
again after a 401, as a service account's rotates), its retries and its errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx2
import pytest
from aiohttp import web
from lightkube import ApiError
from lightkube.resources.core_v1 import Pod
from test_coordinator.platforms.kubernetes import ApiClient, RetryPolicy, connect

from tests.integration.kube import write_kubeconfig
from tests.integration.loopback import serving

Answer = Callable[[web.Request], Awaitable[web.Response]]
STATUS = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}


@contextlib.asynccontextmanager
async def api_client(
    answer: Answer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **user: str
) -> AsyncIterator[ApiClient]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with serving(app) as address:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig",
            cluster={"server": f"http://{address}"},
            user=user or {"token": "s3cret"},
        )
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        client = connect(policy=RetryPolicy(budget=5.0, minimum=0.05))
        try:
            yield client
        finally:
            await client.close()


async def test_the_delete_is_the_request_lightkube_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, str, str | None, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(
            (
                request.method,
                request.path,
                request.query_string,
                request.headers.get("Authorization"),
                request.headers.get("User-Agent", "").partition("/")[0],
            )
        )
        return web.json_response({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "x"}})

    async with api_client(answer, tmp_path, monkeypatch) as client:
        await client.delete(Pod, "risk-0", namespace="trading", grace_period=0)
        await client.delete_pod("risk-0", namespace="trading", grace_period=0)
        await client.delete_pod("risk-1", namespace="trading", grace_period=30)

    ours = ("DELETE", "/api/v1/namespaces/trading/pods/risk-0", "gracePeriodSeconds=0")
    assert seen == [
        (*ours, "Bearer s3cret", "python-httpx2"),
        (*ours, "Bearer s3cret", "python-httpx2"),
        (
            "DELETE",
            "/api/v1/namespaces/trading/pods/risk-1",
            "gracePeriodSeconds=30",
            "Bearer s3cret",
            "python-httpx2",
        ),
    ]


async def test_a_token_file_is_read_again_after_a_401(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("old\n")
    asked: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != "Bearer new":
            return web.json_response({**STATUS, "code": 401, "reason": "Unauthorized"}, status=401)
        return web.json_response({"kind": "Pod", "apiVersion": "v1"})

    async with api_client(answer, tmp_path, monkeypatch, tokenFile=str(token)) as client:
        with pytest.raises(ApiError) as refused:
            await client.delete_pod("risk-0", namespace="trading", grace_period=0)
        token.write_text("new\n")  # the kubelet rotated it
        await client.delete_pod("risk-0", namespace="trading", grace_period=0)

    assert refused.value.status.code == 401
    # Each 401 is asked again once with the token read afresh: the first still old, the next
    # one read after the rotation.
    assert asked == ["Bearer old", "Bearer old", "Bearer old", "Bearer new"]


async def test_a_busy_answer_is_retried_and_a_status_is_lightkubes_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = [
        web.json_response({**STATUS, "code": 503}, status=503),
        web.json_response(
            {**STATUS, "code": 404, "reason": "NotFound", "message": 'pods "risk-0" not found'},
            status=404,
        ),
        web.Response(status=403, text="forbidden by a proxy", content_type="text/plain"),
    ]

    async def answer(request: web.Request) -> web.Response:
        return answers.pop(0)

    async with api_client(answer, tmp_path, monkeypatch) as client:
        with pytest.raises(ApiError) as gone:
            await client.delete_pod("risk-0", namespace="trading", grace_period=0)
        with pytest.raises(httpx2.HTTPStatusError, match="403") as refused:
            await client.delete_pod("risk-0", namespace="trading", grace_period=0)

    assert gone.value.status.code == 404 and "not found" in str(gone.value)
    assert not isinstance(refused.value, ApiError)  # no Status to read: the answer as it came
    assert answers == []
