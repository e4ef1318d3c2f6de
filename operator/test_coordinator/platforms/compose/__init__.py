"""Docker Compose: the containers of a running compose project, through the Docker Engine API."""

from test_coordinator.platforms.compose.platform import ComposePlatform
from test_coordinator.platforms.compose.project import project_name

__all__ = ["ComposePlatform", "project_name"]
