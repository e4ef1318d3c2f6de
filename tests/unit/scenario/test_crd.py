"""The CRD is generated from the model, is a structural schema an API server accepts, and
rejects what ``validate`` rejects."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.crd import crd_manifest, openapi_schema, render_crd
from test_coordinator.scenario.loading import parse_scenario

CRD_FILE = Path(__file__).resolve().parents[3] / "crds" / "chaosscenario.yaml"

# What a structural schema may say inside anyOf/oneOf/allOf/not: value checks, never shape.
_SHAPE = {"type", "properties", "additionalProperties", "items", "nullable", "default"}


def test_the_committed_crd_is_what_the_model_generates() -> None:
    assert CRD_FILE.read_text() == render_crd(), "run `make crd` and commit crds/"


def test_the_crd_names_the_resource_as_the_cluster_shows_it() -> None:
    spec = crd_manifest()["spec"]
    [version] = spec["versions"]

    assert (spec["group"], version["name"]) == ("chaos.tse.dev", "v1alpha1")
    assert spec["names"]["kind"] == "ChaosScenario"
    assert spec["names"]["plural"] == "chaosscenarios"
    assert spec["names"]["categories"] == ["chaos"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Phase", "Verdict", "Recovery", "Age"]


def _nodes(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with where it is, for the structural rules below."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}{{}}")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")


def test_the_schema_is_structural() -> None:
    root = openapi_schema()
    problems = []
    for path, node in _nodes(root):
        if "type" not in node and not node.get("x-kubernetes-int-or-string"):
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties and additionalProperties together")
        if node.get("type") == "array" and "items" not in node:
            problems.append(f"{path}: an array without items")
        for word in ("$ref", "$defs", "const", "default", "propertyNames", "title"):
            if word in node:
                problems.append(f"{path}: {word} is not allowed")
        if node.get("type") == "null" or node.get("nullable") is False:
            problems.append(f"{path}: null type")
        for junction in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(junction, []):
                shape = _SHAPE & set(branch)
                int_or_string = node.get("x-kubernetes-int-or-string") and junction == "anyOf"
                if shape and not (int_or_string and set(branch) == {"type"}):
                    problems.append(f"{path}: {junction} branch declares {sorted(shape)}")
    assert problems == []
    spec = root["properties"]["spec"]
    assert "x-kubernetes-preserve-unknown-fields" not in spec
    assert root["properties"]["metadata"] == {"type": "object"}


def _strict(schema: Any) -> Any:
    """The schema as the API server applies it with kubectl's default strict field validation:
    an unknown field is an error."""
    schema = copy.deepcopy(schema)
    for _, node in _nodes(schema):
        if "properties" in node:
            node["additionalProperties"] = False
    return schema


VALID = {
    "apiVersion": "chaos.tse.dev/v1alpha1",
    "kind": "ChaosScenario",
    "metadata": {"name": "crash", "namespace": "trading"},
    "spec": {
        "targets": {"risk": {"selector": {"app": "risk"}, "mode": "one"}},
        "steps": [
            {
                "name": "crash",
                "fault": {"kill": {"target": "risk"}},
                "after": [{"name": "back", "workloadReady": {"name": "risk"}, "within": "30s"}],
            }
        ],
        "schedule": "*/5 * * * *",
    },
}


def _broken(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    if ".after.0." in path and path.rsplit(".", 1)[1] in ("tcp", "http", "command"):
        del document["spec"]["steps"][0]["after"][0]["workloadReady"]  # one probe kind only
    node: Any = document
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.timeout", 30),  # a duration without its unit
        ("spec.targets.risk.mode", "some"),
        ("spec.targets.risk.selector", {}),
        ("spec.steps.0.fault", {"kill": {"target": "risk"}, "restart": {"target": "risk"}}),
        ("spec.steps.0.fault", {}),
        ("spec.steps.0.after.0.within", "soon"),
        ("spec.steps.0.after.0.workloadReady.kind", "DaemonSet"),
        ("spec.steps", _DELETE),
        ("spec.concurrencyPolicy", "Sometimes"),
        ("spec.schedule", "every day"),
        ("spec.targets.risk.labels", {"app": "risk"}),  # a typo of selector
        ("spec.steps.0.after.0.within", "\uff15s"),  # a fullwidth digit: not [0-9]
        ("spec.steps.0.after.0.within", "9" * 400 + "s"),  # longer than 32 characters
        ("spec.steps.0.after.0.timeout", 2),
        ("spec.steps.0.after.0.tcp", {"target": "risk", "port": 0}),
        ("spec.steps.0.after.0.tcp", {"target": "risk", "port": 65536}),
        ("spec.steps.0.after.0.tcp", {"target": "risk", "port": "x" * 64}),
        ("spec.steps.0.after.0.http", {"target": "risk", "port": 80, "expectStatus": [99]}),
        ("spec.steps.0.after.0.command", {"argv": ["true"], "expectExitCode": 256}),
        ("spec.steps.0.after.0.command", {"argv": ["true"], "expectExitCode": "0"}),
        ("spec.steps.0.fault", {"scale": {"target": "risk", "replicas": True}}),
        ("spec.steps.0.after.0.minSuccessRate", 0.5),  # an after-check has no success rate
        ("spec.historyLimit", "10"),
        ("spec.steps.0.fault", {"latency": {"target": "risk", "port": 50051, "delay": "1s"}}),
        ("spec.steps.0.fault", {"latency": {"target": "risk", "port": "grpc", "delay": 500}}),
        ("spec.steps.0.fault", {"latency": {"target": "risk", "port": "grpc"}}),
        ("spec.steps.0.fault", {"bandwidth": {"target": "risk", "port": "grpc", "rate": "64KB"}}),
        ("spec.steps.0.fault", {"partition": {"target": "risk", "port": "g", "percent": 0}}),
        ("spec.steps.0.fault", {"partition": {"target": "risk", "port": "g", "direction": "in"}}),
        ("spec.steps.0.fault", {"reset": {"target": "risk", "port": "grpc!"}}),
    ],
)
def test_what_the_cluster_rejects_validate_rejects(path: str, value: Any) -> None:
    document = _broken(path, value)
    validator = jsonschema.Draft4Validator(_strict(openapi_schema()))

    assert list(validator.iter_errors(document)), "the CRD schema accepts it"
    with pytest.raises(ScenarioInvalid):
        parse_scenario(document, source="test")


def test_a_valid_scenario_passes_both() -> None:
    validator = jsonschema.Draft4Validator(_strict(openapi_schema()))

    assert [e.message for e in validator.iter_errors(VALID)] == []
    parse_scenario(VALID, source="test")


def test_every_shipped_kubernetes_scenario_fits_the_crd() -> None:
    validator = jsonschema.Draft4Validator(_strict(openapi_schema()))
    files = sorted((CRD_FILE.parents[1] / "scenarios" / "kubernetes").glob("*.yaml"))

    assert files
    for file in files:
        document = yaml.safe_load(file.read_text())
        assert [e.message for e in validator.iter_errors(document)] == [], file
        parse_scenario(document, source=str(file))
