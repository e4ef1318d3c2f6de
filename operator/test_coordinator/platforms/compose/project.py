"""Which compose project a run targets when ``--project`` does not say: the one ``docker compose``
would use here.

Like compose: ``COMPOSE_PROJECT_NAME``, else the top-level ``name`` of the compose file found in
the working directory or the nearest parent holding one, else that directory's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.loading import read_yaml

__all__ = ["COMPOSE_FILES", "find_compose_file", "normalise_project_name", "project_name"]

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def project_name(directory: Path) -> str:
    from_environment = os.environ.get("COMPOSE_PROJECT_NAME")
    if from_environment:
        return normalise_project_name(from_environment)
    compose_file = find_compose_file(directory)
    if compose_file is None:
        raise ScenarioInvalid(
            f"no compose project named (--project) and no compose file "
            f"({', '.join(COMPOSE_FILES)}) in {directory.resolve()} or above it"
        )
    document = read_yaml(compose_file)
    name = document.get("name") if isinstance(document, Mapping) else None
    if isinstance(name, str) and name.strip():
        return normalise_project_name(name)
    return normalise_project_name(compose_file.parent.resolve().name)


def find_compose_file(directory: Path) -> Path | None:
    for folder in (directory.resolve(), *directory.resolve().parents):
        for name in COMPOSE_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def normalise_project_name(name: str) -> str:
    """Compose's rule: lower case, only letters, digits, ``-`` and ``_``, not starting with
    either of those two."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("-_")
