"""A run's status written back into its scenario file, where a cluster would keep it on the
resource: after the run the file reads like ``kubectl get -o yaml`` of it.

Only the ``status:`` block changes. ruamel.yaml finds where it is (or where it goes, at the end)
and renders the new one in the file's own indentation; every other line is kept byte for byte,
which a full round-trip dump cannot promise (it rejoins multi-line flow mappings and
re-spaces aligned values).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from test_coordinator.errors import TestCoordinatorError
from test_coordinator.scenario.loading import load_yaml
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus, carry_transition_times

__all__ = ["write_status"]

STATUS_KEY = "status"


def write_status(path: Path, scenario: ChaosScenario, status: ScenarioStatus) -> None:
    """Put ``status`` (camelCase, as ``ChaosScenario.dump`` writes it) into the file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        first, end = _status_lines(load_yaml(text, source=str(path)), len(lines))
        while end > first and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1  # comments and blank lines after the old block are the file's, not its
        if scenario.status is not None:  # the file's own status is the one shown so far
            conditions = carry_transition_times(status.conditions, scenario.status.conditions)
            status = status.model_copy(update={"conditions": conditions})
        block = _render(scenario.model_copy(update={"status": status}).dump()[STATUS_KEY], text)
        if first == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        _replace_atomically(path, "".join([*lines[:first], block, *lines[end:]]))
    except OSError as error:
        raise TestCoordinatorError(
            f"{path}: cannot write the status back: {error.strerror or error}"
        ) from None


def _status_lines(document: Any, line_count: int) -> tuple[int, int]:
    """The 0-based line range ``[first, end)`` the status block takes; ``(n, n)``: none yet."""
    if not isinstance(document, CommentedMap) or STATUS_KEY not in document:
        return line_count, line_count
    first = document.lc.key(STATUS_KEY)[0]
    following = [document.lc.key(key)[0] for key in document if document.lc.key(key)[0] > first]
    return first, min(following, default=line_count)


def _render(status: Mapping[str, Any], text: str) -> str:
    mapping, sequence, offset = _indentation(text)
    yaml = YAML(typ="rt")
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.width = 4096  # a long message stays on one line, as the rest of the file does
    out = io.StringIO()
    yaml.dump({STATUS_KEY: dict(status)}, out)
    return out.getvalue()


def _indentation(text: str) -> tuple[int, int, int]:
    """``(mapping, sequence, offset)`` as ruamel names them, as the file's block mappings and
    sequences are indented; without block sequences, dashes indented like keys."""
    mapping: int | None = None
    sequence: int | None = None
    offset: int | None = None
    opener: int | None = None  # indentation of the previous line if it opened a block (`key:`)
    for line in text.splitlines():
        content = line.split(" #", 1)[0].rstrip()
        if not content.strip() or content.lstrip().startswith("#"):
            continue
        indent = len(content) - len(content.lstrip(" "))
        body = content.lstrip(" ")
        if opener is not None and indent > opener:
            if body.startswith("- ") and offset is None:
                item = body[2:]
                offset = indent - opener
                sequence = offset + 2 + len(item) - len(item.lstrip(" "))
            elif not body.startswith("-") and mapping is None:
                mapping = indent - opener
        opener = indent if body.endswith(":") else None
    mapping = mapping or 2
    if offset is None or sequence is None:
        return mapping, mapping + 2, mapping
    return mapping, sequence, offset


def _replace_atomically(path: Path, text: str) -> None:
    """Readers never see half a file: write beside it, then rename over it."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
