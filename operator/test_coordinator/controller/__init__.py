"""The Kubernetes operator: kopf handlers over the same engine, status written on the resource."""

from test_coordinator.controller.main import operate, run_operator
from test_coordinator.controller.settings import OperatorSettings, add_arguments

__all__ = ["OperatorSettings", "add_arguments", "operate", "run_operator"]
