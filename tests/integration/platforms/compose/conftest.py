"""The demo stack's compose test variant: up once for this directory's tests, down after them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import wait_for_port
from tests.integration.platforms.compose.projects import (
    DEMO_PORTS,
    ComposeProject,
    demo_project,
    missing_engine,
    running,
)


@pytest.fixture(scope="package")
def demo_stack() -> Iterator[ComposeProject]:
    assert missing_engine() is None, "use the module's requires_engine mark"
    with running(demo_project()) as project:
        for port in DEMO_PORTS:
            wait_for_port(project.port(port), timeout=60)
        yield project
