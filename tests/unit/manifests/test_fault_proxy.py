"""The demo's fault proxy on Kubernetes: a Deployment and a Service in front of the risk
monitor, found by label, unprivileged, with the gateway pointed at it; and nothing more in the
operator's RBAC than reading Services, which it already had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from test_coordinator.platforms.kubernetes.proxies import CONTROL_PORT, PROXY_FOR_LABEL

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "manifests" / "demo"


def objects(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    loaded = [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in loaded}


def test_the_proxy_service_fronts_the_risk_monitors_grpc_port() -> None:
    proxy = objects(DEMO / "risk-monitor-proxy.yaml")
    risk = objects(DEMO / "risk-monitor.yaml")
    service = proxy[("Service", "risk-monitor-proxy")]
    assert service["metadata"]["labels"][PROXY_FOR_LABEL] == "risk-monitor"
    ports = {port["name"]: port["port"] for port in service["spec"]["ports"]}
    fronted = {
        port["name"]: port["port"] for port in risk[("Service", "risk-monitor")]["spec"]["ports"]
    }
    assert set(ports) == {"grpc", CONTROL_PORT}
    assert ports["grpc"] == fronted["grpc"]
    deployment = proxy[("Deployment", "risk-monitor-proxy")]
    assert deployment["spec"]["replicas"] == 1  # toxics live in one process's memory
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["command"])
    assert "proxy --proxy grpc=0.0.0.0:50051,risk-monitor:50051" in command
    assert f"--control 0.0.0.0:{ports[CONTROL_PORT]}" in command


def test_the_proxy_is_unprivileged() -> None:
    deployment = objects(DEMO / "risk-monitor-proxy.yaml")[("Deployment", "risk-monitor-proxy")]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "hostNetwork" not in pod
    shipped = [*DEMO.glob("*.yaml"), *(REPO / "manifests").glob("*.yaml")]
    for path in [path for path in shipped if path.name != "kustomization.yaml"]:
        for (kind, name), document in objects(path).items():
            assert kind != "DaemonSet", path
            template = document.get("spec", {}).get("template", {}).get("spec", {})
            for each in template.get("containers", []):
                assert "add" not in each.get("securityContext", {}).get("capabilities", {}), name


def test_the_gateway_reaches_the_risk_monitor_through_the_proxy() -> None:
    gateway = objects(DEMO / "order-gateway.yaml")[("Deployment", "order-gateway")]
    [container] = gateway["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[command.index("--risk") + 1] == "risk-monitor-proxy:50051"
    kustomization = YAML(typ="safe").load((DEMO / "kustomization.yaml").read_text())
    assert "risk-monitor-proxy.yaml" in kustomization["resources"]


def test_the_operator_needs_no_new_permission_for_network_faults() -> None:
    """It finds proxies among the Services it reads anyway (for endpoints), and talks to their
    control API over HTTP: reading Services is all."""
    role = objects(REPO / "manifests" / "rbac.yaml")[("ClusterRole", "test-coordinator")]
    services = [rule for rule in role["rules"] if "services" in rule["resources"]]
    assert services == [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}
    ]
