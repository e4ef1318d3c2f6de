"""A run's status written back into its scenario file, where a cluster would keep it on the
resource: after the run the file reads like ``kubectl get -o yaml`` of it.

Only the ``status:`` block changes. ruamel.yaml finds where it is (or where it goes, at the end)
and renders the new one in the file's own indentation; every other line is kept byte for byte,
which a full round-trip dump cannot promise (it rejoins multi-line flow mappings and
re-spaces aligned values).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from test_coordinator.errors import TestCoordinatorError
from test_coordinator.scenario.loading import load_yaml
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import ScenarioStatus, carry_transition_times

__all__ = ["FileChanged", "write_status", "write_status_block"]

STATUS_KEY = "status"
_ATTEMPTS = 3


class FileChanged(TestCoordinatorError):
    """The file kept changing under the write (someone is editing it): not written."""


def write_status(path: Path, scenario: ChaosScenario, status: ScenarioStatus) -> None:
    """Put ``status`` (camelCase, as ``ChaosScenario.dump`` writes it) into the file at ``path``."""
    write_status_block(path, status)


def write_status_block(
    path: Path, status: ScenarioStatus, *, expect: Callable[[Any], bool] | None = None
) -> bool:
    """Put ``status`` into the file at ``path``, whatever else the file holds (an invalid spec
    too). With ``expect``, only if the document read passes it (still the same scenario);
    False when it did not. A file replaced while this wrote (an editor saving) is read again
    rather than overwritten with what it held before; a symlink is replaced, never followed."""
    try:
        for _ in range(_ATTEMPTS):
            before = os.lstat(path)
            text = path.read_text(encoding="utf-8")
            document = load_yaml(text, source=str(path))
            if expect is not None and not expect(document):
                return False
            updated = _with_status(text, document, status)
            if _replace_atomically(path, updated, unchanged_since=before):
                return True
        raise FileChanged(f"{path}: kept changing while the status was written; not written")
    except OSError as error:
        raise TestCoordinatorError(
            f"{path}: cannot write the status back: {error.strerror or error}"
        ) from None


def _with_status(text: str, document: Any, status: ScenarioStatus) -> str:
    lines = text.splitlines(keepends=True)
    first, end = _status_lines(document, len(lines))
    while end > first and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # comments and blank lines after the old block are the file's, not its
    shown = document.get(STATUS_KEY) if isinstance(document, Mapping) else None
    if isinstance(shown, Mapping):  # the file's own status is the one shown so far
        with contextlib.suppress(ValueError):
            known = ScenarioStatus.model_validate(shown).conditions
            conditions = carry_transition_times(status.conditions, known)
            status = status.model_copy(update={"conditions": conditions})
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    block = _render(dumped, text)
    if first == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join([*lines[:first], block, *lines[end:]])


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


def _replace_atomically(path: Path, text: str, *, unchanged_since: os.stat_result) -> bool:
    """Readers never see half a file: write beside it, then rename over it; False (nothing
    written) when the file is no longer the one read (replaced, or written, meanwhile)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, unchanged_since.st_mode & 0o7777)
        now = os.lstat(path)
        if _signature(now) != _signature(unchanged_since):
            Path(temporary).unlink(missing_ok=True)
            return False
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
