"""Toxic documents as the API reads and writes them: defaults, updates, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from test_coordinator.proxy import Refused, Toxic
from test_coordinator.proxy.toxics import parse_toxic, parse_toxic_update


def test_defaults_are_toxiproxys() -> None:
    toxic = parse_toxic({"type": "latency"})
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }


def test_the_lease_is_written_only_when_there_is_one() -> None:
    toxic = parse_toxic({"type": "timeout", "name": "cut", "lease_seconds": 5})
    assert toxic.lease_seconds == 5.0
    assert toxic.to_json()["lease_seconds"] == 5.0
    assert "lease_seconds" not in Toxic.timeout().to_json()


def test_the_holder_is_kept_and_an_update_may_change_it() -> None:
    toxic = parse_toxic({"type": "timeout", "name": "cut", "holder": "ChaosScenario ns/a"})
    assert toxic.to_json()["holder"] == "ChaosScenario ns/a"
    assert Toxic.from_json(toxic.to_json()) == toxic
    assert parse_toxic_update(toxic, {"lease_seconds": 3}).holder == "ChaosScenario ns/a"
    assert parse_toxic_update(toxic, {"holder": "b"}).holder == "b"
    assert "holder" not in Toxic.timeout().to_json()


def test_constructors_match_the_documents() -> None:
    assert (
        Toxic.latency(500, 20, stream="upstream").to_json()
        == parse_toxic(
            {"type": "latency", "stream": "upstream", "attributes": {"latency": 500, "jitter": 20}}
        ).to_json()
    )
    assert Toxic.bandwidth(64).attributes == {"rate": 64}
    assert Toxic.timeout().attributes == {"timeout": 0}
    assert Toxic.reset_peer(100, toxicity=0.5).toxicity == 0.5


def test_an_update_changes_what_it_names_and_keeps_the_rest() -> None:
    toxic = parse_toxic(
        {"type": "latency", "name": "slow", "attributes": {"latency": 100, "jitter": 5},
         "toxicity": 0.5, "lease_seconds": 3}
    )  # fmt: skip
    updated = parse_toxic_update(toxic, {"attributes": {"latency": 300}})
    assert updated.attributes == {"latency": 300, "jitter": 5}
    assert (updated.name, updated.toxicity, updated.lease_seconds) == ("slow", 0.5, 3.0)
    assert parse_toxic_update(toxic, {"lease_seconds": 9}).lease_seconds == 9.0
    assert parse_toxic_update(toxic, {"toxicity": 1}).toxicity == 1.0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("latency", "expected a JSON object"),
        ({"type": "slow_close"}, "invalid toxic type: 'slow_close'"),
        ({}, "invalid toxic type: None"),
        ({"type": "latency", "stream": "both"}, "stream was invalid"),
        ({"type": "latency", "name": 3}, "name: expected a string"),
        ({"type": "bandwidth", "attributes": {"rate": 1.5}}, "attributes.rate: expected a whole"),
        ({"type": "bandwidth", "attributes": {"rate": True}}, "attributes.rate: expected a whole"),
        ({"type": "bandwidth", "attributes": [1]}, "attributes: expected a JSON object"),
        ({"type": "timeout", "attributes": {"latency": 1}}, "timeout has no attribute 'latency'"),
        ({"type": "timeout", "toxicity": -0.1}, "toxicity: expected a number from 0 to 1"),
        ({"type": "timeout", "toxicity": "all"}, "toxicity: expected a number from 0 to 1"),
        ({"type": "timeout", "lease_seconds": -1}, "lease_seconds: expected a number of seconds"),
        ({"type": "timeout", "lease_seconds": "5s"}, "lease_seconds: expected a number of sec"),
        ({"type": "timeout", "holder": 7}, "holder: expected a string of 1 to 256 characters"),
        ({"type": "timeout", "holder": ""}, "holder: expected a string of 1 to 256 characters"),
        ({"type": "timeout", "holder": "x" * 257}, "holder: expected a string of 1 to 256"),
    ],
)
def test_refusals_name_the_field_and_what_was_expected(document: Any, message: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_toxic(document)
    assert refused.value.status == 400
    assert message in refused.value.message


def test_from_json_reads_either_servers_answer() -> None:
    answered = {"name": "x", "type": "latency", "stream": "upstream", "toxicity": 1,
                "attributes": {"latency": 5, "jitter": 0}}  # fmt: skip
    assert Toxic.from_json(answered) == Toxic.latency(5, name="x", stream="upstream")
    assert Toxic.from_json({**answered, "lease_seconds": 2}).lease_seconds == 2.0
