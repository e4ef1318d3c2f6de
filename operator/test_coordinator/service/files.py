"""The watched directory: which scenario files are there, what each holds, and writing inside it.

A file is one ChaosScenario, keyed by its ``metadata.name`` (the file's name is free, so an
editor's rename or ``git mv`` changes nothing). Only regular ``*.yaml``/``*.yml`` files that are
not hidden count: an editor's swap and backup files, and symlinks (which could lead out of the
directory), are not scenarios. The API writes only inside the directory, relative to a handle
on it opened once, into a temporary file renamed over the target: never through a symlink,
never half a file.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from test_coordinator.errors import ScenarioInvalid, TestCoordinatorError
from test_coordinator.reconcile.host import ABORT_ANNOTATION
from test_coordinator.scenario.model import KIND
from test_coordinator.scenario.reading import load_yaml, read_document
from test_coordinator.scenario.status import ScenarioStatus

__all__ = [
    "NAME_PATTERN",
    "ScenarioDirectory",
    "ScenarioFile",
    "Signature",
    "read_scenario_file",
    "remove_abort_annotation",
    "scan",
    "spec_hash",
]

NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_MAX = 63
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Signature:
    """What tells a file's versions apart without reading it: a rename over it (an editor's
    save, a checkout) changes the inode; a write in place the size or the time."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, found: os.stat_result) -> Signature:
        return cls(found.st_ino, found.st_size, found.st_mtime_ns)


@dataclass(frozen=True)
class ScenarioFile:
    """One file as last read."""

    path: Path
    signature: Signature
    name: str | None = None
    document: Mapping[str, Any] | None = None  # what the model reads: no status
    spec_hash: str | None = None
    abort_requested: bool = False
    status: ScenarioStatus | None = None  # as the file shows it
    problem: str | None = None  # why it cannot be read as a scenario


def valid_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= NAME_MAX and bool(NAME_PATTERN.match(name))


def scan(directory: Path) -> dict[Path, Signature]:
    """Every candidate scenario file in ``directory`` (not below it), with its signature."""
    found: dict[Path, Signature] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(SUFFIXES):
            continue
        with contextlib.suppress(OSError):  # gone between listing and looking
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                found[Path(entry.path)] = Signature.of(info)
    return found


def spec_hash(spec: Any) -> str:
    """The spec's identity: comments, layout, key order, metadata and status do not count."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_scenario_file(path: Path, signature: Signature) -> ScenarioFile:
    try:  # a regular file of bounded size, bytes and shape, as `run` reads one
        data = plain(read_document(path, plain_values=True).data)
    except ScenarioInvalid as error:
        return ScenarioFile(path, signature, problem=str(error))
    if isinstance(data, dict) and data.get("kind") not in (None, KIND):
        return ScenarioFile(path, signature)  # another kind of document (a stack file): not ours
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        return ScenarioFile(path, signature, problem=f"{path.name}: not a ChaosScenario")
    meta = data["metadata"]
    name = meta.get("name")
    if not valid_name(name):
        problem = (
            f"{path.name}: metadata.name: expected a DNS-1123 name (lower case letters, digits "
            f"and '-', at most {NAME_MAX}), got {name!r}"
        )
        return ScenarioFile(path, signature, problem=problem)
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    document = {key: value for key, value in data.items() if key != "status"}
    status = None
    if isinstance(data.get("status"), dict):
        with contextlib.suppress(ValueError):
            status = ScenarioStatus.model_validate(data["status"])
    return ScenarioFile(
        path,
        signature,
        name=name,
        document=document,
        spec_hash=spec_hash(data.get("spec")),
        abort_requested=str((annotations or {}).get(ABORT_ANNOTATION)).lower() == "true",
        status=status,
    )


def plain(node: Any) -> Any:
    """ruamel's round-trip tree as plain JSON-like data (timestamps as ISO text)."""
    if isinstance(node, Mapping):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, datetime.datetime | datetime.date):
        return node.isoformat()
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


class ScenarioDirectory:
    """Writes inside the watched directory, through a handle on it: a directory swapped for a
    symlink afterwards is not followed, and neither is a symlink in it."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        if not self.path.is_dir():
            raise ScenarioInvalid(f"--scenarios {path}: not a directory")
        self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def close(self) -> None:
        os.close(self._fd)

    def write(self, filename: str, text: str) -> Path:
        """``filename`` (a bare name) holds ``text`` afterwards, atomically."""
        _bare(filename)
        with contextlib.suppress(FileNotFoundError):
            found = os.stat(filename, dir_fd=self._fd, follow_symlinks=False)
            if not stat.S_ISREG(found.st_mode):
                raise TestCoordinatorError(f"{filename} is not a regular file: not written")
        temporary = f".{filename}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        handle = os.open(temporary, flags, 0o644, dir_fd=self._fd)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, filename, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self._fd)
            raise
        return self.path / filename

    def remove(self, filename: str) -> None:
        _bare(filename)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(filename, dir_fd=self._fd)


def _bare(filename: str) -> None:
    if "/" in filename or filename in ("", ".", "..") or "\0" in filename:
        raise TestCoordinatorError(f"not a file name in the directory: {filename!r}")


def remove_abort_annotation(directory: ScenarioDirectory, path: Path) -> None:
    """Take ``chaos.tse.dev/abort`` out of the file's metadata, keeping every other line."""
    text = path.read_text(encoding="utf-8")
    document = load_yaml(text, source=str(path))
    meta = document.get("metadata") if isinstance(document, CommentedMap) else None
    annotations = meta.get("annotations") if isinstance(meta, CommentedMap) else None
    if not isinstance(annotations, CommentedMap) or ABORT_ANNOTATION not in annotations:
        return
    assert isinstance(meta, CommentedMap)
    lines = text.splitlines(keepends=True)
    if annotations.fa.flow_style() or meta.fa.flow_style():
        del annotations[ABORT_ANNOTATION]  # a one-line mapping: dumped again, comments kept
        yaml = YAML(typ="rt")
        yaml.width = 4096
        out = _Text()
        yaml.dump(document, out)
        updated = out.text
    else:
        line = annotations.lc.key(ABORT_ANNOTATION)[0]
        drop = {line}
        if len(annotations) == 1:
            drop.add(meta.lc.key("annotations")[0])  # no annotations left: no empty key
        updated = "".join(text for number, text in enumerate(lines) if number not in drop)
    directory.write(path.name, updated)


class _Text:
    def __init__(self) -> None:
        self.text = ""

    def write(self, data: str | bytes) -> None:
        self.text += data.decode() if isinstance(data, bytes) else data
