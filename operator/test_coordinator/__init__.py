"""test-coordinator: chaos scenarios for multi-service systems.

The public surface, pinned by ``tests/unit/test_public_api.py``:

- ``test_coordinator.scenario``: the ChaosScenario model, its status, and loading;
- ``test_coordinator.engine``: ``run_scenario``, ``Abort`` and ``RunObserver``;
- ``test_coordinator.platforms``: the ``Platform`` interface and ``Workload``;
- the ``test-coordinator`` command (``test_coordinator.cli``).

Everything else may change freely. This module imports nothing: the demo services import the
package too, and their start-up time is part of every measured recovery.
"""

import os as _os

# Our processes fork only to exec (the local stack's services), never to use gRPC in a child:
# gRPC's fork handlers have nothing to do there, and with its server's threads running they
# could abort a child between fork and exec. Off unless the user says otherwise; set before
# any gRPC import, which every command makes.
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
