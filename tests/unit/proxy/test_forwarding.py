"""What toxics do to a connection's two directions, combined."""

from __future__ import annotations

import pytest
from test_coordinator.proxy import Toxic
from test_coordinator.proxy.forwarding import NO_EFFECTS, Effects, effects_of


def test_no_toxic_no_effect() -> None:
    assert effects_of([]) == ({"upstream": NO_EFFECTS, "downstream": NO_EFFECTS}, set())


def test_latencies_add_up_and_the_slowest_bandwidth_wins() -> None:
    effects, timers = effects_of(
        [
            Toxic.latency(100, 10, name="a"),
            Toxic.latency(50, name="b"),
            Toxic.bandwidth(64, name="c"),
            Toxic.bandwidth(32, name="d"),
            Toxic.bandwidth(0, name="unlimited"),
            Toxic.latency(7, stream="upstream"),
        ]
    )
    downstream = effects["downstream"]
    assert (downstream.latency, downstream.jitter) == pytest.approx((0.15, 0.01))
    assert (downstream.rate, downstream.held) == (32_000.0, False)
    assert effects["upstream"] == Effects(latency=0.007)
    assert timers == set()


def test_timeout_holds_its_direction_and_may_close() -> None:
    effects, timers = effects_of([Toxic.timeout(0, stream="upstream"), Toxic.timeout(250)])
    assert effects["upstream"].held
    assert effects["downstream"].held
    assert timers == {("timeout_downstream", "close", 0.25)}


def test_reset_peer_is_a_timed_reset_of_the_whole_connection() -> None:
    effects, timers = effects_of([Toxic.reset_peer(), Toxic.reset_peer(300, name="later")])
    assert effects == {"upstream": NO_EFFECTS, "downstream": NO_EFFECTS}
    assert timers == {("reset_peer_downstream", "reset", 0.0), ("later", "reset", 0.3)}
