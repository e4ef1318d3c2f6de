"""What ``serve`` remembers of each scenario between starts: its spec's hash, the generation
that hash is, and the generation last run. A spec is new when its hash is; touching the file,
its comments, metadata or status change nothing.

Kept in the state directory, not in the watched one (which is often a git checkout), as one
JSON file written atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Generations", "Remembered"]

log = logging.getLogger(__name__)


@dataclass
class Remembered:
    spec_hash: str
    generation: int
    observed: int | None = None


class Generations:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Remembered] = {}
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            for name, entry in document.get("scenarios", {}).items():
                self.entries[name] = Remembered(
                    entry["spec_hash"], int(entry["generation"]), entry.get("observed")
                )
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("state file %s unreadable (%s): every scenario counts as new", path, error)

    def generation(self, name: str, spec_hash: str) -> int:
        """The generation of ``name`` with this spec: bumped when the hash is new."""
        entry = self.entries.get(name)
        if entry is None:
            self.entries[name] = Remembered(spec_hash, 1)
        elif entry.spec_hash != spec_hash:
            entry.spec_hash, entry.generation = spec_hash, entry.generation + 1
        else:
            return entry.generation
        self.save()
        return self.entries[name].generation

    def observed(self, name: str) -> int | None:
        entry = self.entries.get(name)
        return entry.observed if entry is not None else None

    def set_observed(self, name: str, generation: int) -> None:
        entry = self.entries.get(name)
        if entry is not None and entry.observed != generation:
            entry.observed = generation
            self.save()

    def forget(self, name: str) -> None:
        if self.entries.pop(name, None) is not None:
            self.save()

    def save(self) -> None:
        document = {"scenarios": {name: asdict(entry) for name, entry in self.entries.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=1)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
