"""The audit parts of a scenario: audit checks, the audit sink, and what makes them invalid."""

from __future__ import annotations

from typing import Any

import pytest
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario import parse_scenario
from test_coordinator.scenario.model import AuditCheck, ChaosScenario

REDIS = {"target": "redis", "port": "redis"}


def scenario(**spec: Any) -> ChaosScenario:
    return parse_scenario(
        {
            "apiVersion": "chaos.tse.dev/v1alpha1",
            "kind": "ChaosScenario",
            "metadata": {"name": "audited"},
            "spec": {
                "targets": {
                    "risk": {"selector": {"app": "risk-monitor"}},
                    "redis": {"selector": {"app": "redis"}},
                },
                "steps": [{"name": "crash", "fault": {"kill": {"target": "risk"}}}],
                **spec,
            },
        },
        source="s.yaml",
    )


def problem(**spec: Any) -> str:
    with pytest.raises(ScenarioInvalid) as raised:
        scenario(**spec)
    [only] = raised.value.problems
    return only


def test_the_designs_audit_section_with_defaults() -> None:
    spec = scenario(
        audit=[{"name": "no order lost", "noLoss": {"redis": REDIS, "stream": "audit:orders"}}],
        auditSink={"redisStream": {"redis": REDIS}},
    ).spec

    [check] = spec.audit
    assert isinstance(check, AuditCheck) and check.kind == "noLoss"
    assert (check.within, check.interval) == (0.0, 0.25)
    assert check.no_loss is not None and check.no_loss.sequence_field == "seq"
    assert spec.audit_sink is not None and spec.audit_sink.redis_stream is not None
    assert spec.audit_sink.redis_stream.stream == "audit:events"
    assert spec.audit_sink.source == "test-coordinator"


def test_an_audit_trail_check_defaults_to_any_time_after_the_fault() -> None:
    [check] = scenario(
        audit=[{"name": "on record", "auditTrail": {"redis": REDIS, "match": {"a": "b"}}}]
    ).spec.audit

    assert check.audit_trail is not None
    assert (check.audit_trail.window.before, check.audit_trail.window.after) == (0.0, None)
    assert check.audit_trail.stream == "audit:events"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"audit": [{"name": "x", "auditTrail": {"match": {"a": "b"}}}]},
            "spec.audit[0].auditTrail: expected exactly one of redis (with stream) or correlator",
        ),
        (
            {"audit": [{"name": "x", "auditTrail": {"redis": REDIS, "match": {}}}]},
            "spec.audit[0].auditTrail.match: ",
        ),
        (
            {"audit": [{"name": "x", "noLoss": {"redis": REDIS}}]},
            "spec.audit[0].noLoss.stream: required field is missing",
        ),
        (
            {"auditSink": {"redisStream": {"redis": REDIS}, "http": {"url": "http://a/b"}}},
            "spec.auditSink: expected exactly one of redisStream, http",
        ),
        (
            {"auditSink": {"http": {"url": "ftp://a/b"}}},
            "spec.auditSink.http: url must start with http:// or https://",
        ),
    ],
)
def test_malformed_audit_fields_are_named(spec: dict[str, Any], expected: str) -> None:
    assert expected in problem(**spec)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"auditSink": {"redisStream": {"redis": {"target": "ghost", "port": 6379}}}},
            "s.yaml: spec.auditSink.redisStream.redis.target: names target 'ghost', which "
            "spec.targets does not define (redis, risk)",
        ),
        (
            {"auditSink": {"http": {"port": 80}}},
            "s.yaml: spec.auditSink.http: expected target (and port), or address (host:port)",
        ),
        (
            {
                "audit": [
                    {
                        "name": "x",
                        "auditTrail": {"correlator": {"target": "ghost"}, "match": {"a": "b"}},
                    }
                ]
            },
            "s.yaml: spec.audit[0].auditTrail.correlator.target: names target 'ghost'",
        ),
        (
            {
                "steadyState": [{"name": "dup", "tcp": {"address": "127.0.0.1:1"}}],
                "audit": [{"name": "dup", "noLoss": {"redis": REDIS, "stream": "s"}}],
            },
            "s.yaml: spec.audit[0].name: duplicate check name 'dup' (first used at "
            "spec.steadyState[0])",
        ),
    ],
)
def test_audit_references_are_checked_like_any_other(spec: dict[str, Any], expected: str) -> None:
    assert problem(**spec).startswith(expected)
