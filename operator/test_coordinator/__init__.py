"""test-coordinator: chaos scenarios for multi-service systems.

The public surface, pinned by ``tests/unit/test_public_api.py``:

- ``test_coordinator.scenario``: the ChaosScenario model, its status, and loading;
- ``test_coordinator.engine``: ``run_scenario``, ``Abort`` and ``RunObserver``;
- ``test_coordinator.platforms``: the ``Platform`` interface and ``Workload``;
- the ``test-coordinator`` command (``test_coordinator.cli``).

Everything else may change freely. This module imports nothing: the demo services import the
package too, and their start-up time is part of every measured recovery.
"""
