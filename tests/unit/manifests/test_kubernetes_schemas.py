"""Everything we ship for a cluster passes Kubernetes' own OpenAPI schemas, strictly.

No API server runs here; kubernetes-validate carries the published schemas of each release, so
an unknown field, a wrong type or a misspelt kind in a manifest or in the generated CRD is
caught here rather than by `kubectl apply`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[3]
KUBERNETES_VERSION = "1.31"  # the oldest release we claim to support; kind's default is newer
SHIPPED = sorted(
    path
    for folder in ("crds", "manifests", "manifests/demo")
    for path in (REPO / folder).glob("*.yaml")
    if path.name != "kustomization.yaml"  # a kustomize file, not a Kubernetes object
)


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]


def test_the_crd_and_manifests_are_shipped() -> None:
    names = {path.relative_to(REPO).as_posix() for path in SHIPPED}
    assert "crds/chaosscenario.yaml" in names
    assert any(name.startswith("manifests/demo/") for name in names)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.relative_to(REPO).as_posix())
def test_each_object_passes_the_kubernetes_schema(path: Path) -> None:
    for document in documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_wrong_field_is_caught() -> None:
    crd = documents(REPO / "crds/chaosscenario.yaml")[0]
    crd["spec"]["scop"] = crd["spec"].pop("scope")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)
