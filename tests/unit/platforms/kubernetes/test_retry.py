"""The transport under the API client: which answers and errors it asks again, how long it
waits (a Retry-After at least), and when it gives up. The API server is httpx's MockTransport,
answering as the test says; time is a clock the retries' sleeps advance, so nothing waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest
from test_coordinator.platforms.deadline import run_deadline
from test_coordinator.platforms.kubernetes.retry import RetryingTransport, RetryPolicy

Answer = Callable[[httpx2.Request], httpx2.Response]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def server(*answers: Answer | int) -> tuple[httpx2.MockTransport, list[httpx2.Request]]:
    """Answers each request with the next of ``answers`` (a status, or a function), the last
    one for every request after."""
    seen: list[httpx2.Request] = []
    queue: Iterator[Answer | int] = iter(answers)
    last: list[Answer | int] = [answers[-1]]

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        answer = next(queue, last[0])
        if callable(answer):
            return answer(request)
        return httpx2.Response(answer, json={"kind": "Status", "code": answer})

    return httpx2.MockTransport(handle), seen


def client(
    inner: httpx2.MockTransport, clock: Clock, policy: RetryPolicy | None = None
) -> tuple[httpx2.AsyncClient, list[tuple[str, str]]]:
    retries: list[tuple[str, str]] = []
    transport = RetryingTransport(
        inner,
        policy,
        on_retry=lambda method, why: retries.append((method, why)),
        sleep=clock.sleep,
        clock=clock,
    )
    return httpx2.AsyncClient(transport=transport, base_url="https://api.test"), retries


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE", "POST"])
async def test_an_answer_that_passes_is_asked_again(method: str, code: int) -> None:
    clock = Clock()
    inner, seen = server(code, code, 200)
    api, retries = client(inner, clock)

    response = await api.request(method, "/api/v1/pods", content=b'{"spec": {}}')

    assert response.status_code == 200
    assert len(seen) == 3
    assert retries == [(method, str(code))] * 2
    assert all(request.content == b'{"spec": {}}' for request in seen)  # the body, each time


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 410, 422])
async def test_an_answer_that_says_no_is_not_asked_again(code: int) -> None:
    clock = Clock()
    inner, seen = server(code)
    api, retries = client(inner, clock)

    response = await api.delete("/api/v1/namespaces/t/pods/p")

    assert response.status_code == code
    assert len(seen) == 1 and retries == []


async def test_retry_after_is_waited_at_least() -> None:
    clock = Clock()

    def busy(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(429, headers={"Retry-After": "3"}, json={"code": 429})

    inner, _ = server(busy, 200)
    api, _ = client(inner, clock)

    assert (await api.get("/api/v1/pods")).status_code == 200
    [waited] = clock.slept
    assert 3.0 <= waited <= 3.0 + RetryPolicy().first_delay


def dropped(error: type[httpx2.TransportError]) -> Answer:
    def answer(request: httpx2.Request) -> httpx2.Response:
        raise error("gone", request=request)

    return answer


@pytest.mark.parametrize(
    "error",
    [httpx2.ConnectError, httpx2.ReadTimeout, httpx2.ReadError, httpx2.RemoteProtocolError],
)
async def test_a_dropped_or_timed_out_connection_is_tried_again(
    error: type[httpx2.TransportError],
) -> None:
    clock = Clock()
    inner, seen = server(dropped(error), 201)
    api, retries = client(inner, clock)

    assert (await api.post("/api/v1/namespaces/t/events", json={})).status_code == 201
    assert len(seen) == 2 and retries == [("POST", error.__name__)]


async def test_a_mistake_of_ours_is_not_tried_again() -> None:
    clock = Clock()
    inner, seen = server(dropped(httpx2.LocalProtocolError), 200)
    api, _ = client(inner, clock)

    with pytest.raises(httpx2.LocalProtocolError):
        await api.get("/api/v1/pods")
    assert len(seen) == 1


async def test_a_create_that_landed_before_its_500_meets_409_on_its_retry() -> None:
    clock = Clock()
    inner, seen = server(500, 409)
    api, _ = client(inner, clock)

    response = await api.post("/apis/networking.k8s.io/v1/namespaces/t/networkpolicies", json={})

    assert response.status_code == 409  # the caller takes AlreadyExists as done
    assert len(seen) == 2


async def test_it_gives_up_after_its_budget_with_the_last_answer() -> None:
    clock = Clock()
    inner, seen = server(503)
    api, _ = client(inner, clock, RetryPolicy(budget=10.0, minimum=1.0))

    response = await api.get("/api/v1/pods")

    assert response.status_code == 503
    assert 10.0 - RetryPolicy().max_delay <= sum(clock.slept) <= 10.0
    assert len(seen) == len(clock.slept) + 1


async def test_within_a_run_it_gives_up_at_the_run_deadline() -> None:
    clock = Clock()
    inner, _ = server(503)
    api, _ = client(inner, clock, RetryPolicy(budget=30.0, minimum=1.0))

    with run_deadline(4.0):
        assert (await api.get("/api/v1/pods")).status_code == 503

    assert sum(clock.slept) <= 4.0


async def test_past_the_run_deadline_a_call_still_gets_its_minimum() -> None:
    clock = Clock()
    inner, _ = server(503)
    api, _ = client(inner, clock, RetryPolicy(budget=30.0, minimum=3.0))

    with run_deadline(-1.0):  # the undo of a fault after the run timed out
        assert (await api.get("/api/v1/pods")).status_code == 503

    assert 3.0 - RetryPolicy().max_delay <= sum(clock.slept) <= 3.0


def test_backoff_is_jittered_and_bounded() -> None:
    policy = RetryPolicy(first_delay=0.1, max_delay=5.0)
    delays = [policy.backoff(attempt) for attempt in range(12) for _ in range(20)]

    assert all(0 <= delay <= 5.0 for delay in delays)
    assert len(set(delays)) > 200  # drawn, not fixed
    assert max(policy.backoff(10) for _ in range(50)) > 2.5  # grows to the ceiling
