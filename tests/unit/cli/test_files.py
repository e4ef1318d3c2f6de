from __future__ import annotations

import subprocess
import sys

# In a fresh interpreter: the entry points are searched, if at all, on the first build.
_SEARCHES_AFTER_START_UP = """
import importlib.metadata

searches = []
entry_points = importlib.metadata.entry_points


def counted(*args, **kwargs):
    searches.append(kwargs)
    return entry_points(*args, **kwargs)


importlib.metadata.entry_points = counted
import test_coordinator.cli.files
from pydantic import BaseModel


class Built(BaseModel):
    field: int


print(len(searches))
"""


def test_the_cli_builds_its_models_without_searching_for_pydantic_plugins() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SEARCHES_AFTER_START_UP], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
