"""A YAML file read safely: a regular UTF-8 file of bounded size and shape, one document.

Everything wrong below the fields is named with its line: bytes that are not UTF-8 (or UTF-16,
or NUL), malformed YAML, nesting deeper than ``MAX_DEPTH``, more than ``MAX_NODES`` nodes once
aliases are expanded, an alias inside its own anchor, several documents or none. The shape is
checked on ruamel's event stream as the composer takes each event, before it goes deeper (the
parser is a state machine, the composer recurses), and before anything is constructed. A FIFO
or a device is refused without being opened to wait.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.reader import ReaderError

from test_coordinator.errors import ScenarioInvalid

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Document",
    "load_document",
    "load_yaml",
    "read_document",
    "read_text",
    "read_yaml",
]

MAX_FILE_BYTES = 1024 * 1024
"""A scenario is a few kilobytes; Kubernetes stores no object over 1.5 MiB."""
MAX_DEPTH = 64
"""Nesting of mappings and lists: a scenario needs about ten levels."""
MAX_NODES = 10_000
"""YAML nodes, counting what an alias stands for each time it is used (a scenario has a few
hundred): so that a few lines of anchors cannot expand to a billion nodes."""


@dataclass(frozen=True)
class Document:
    """One YAML document, as ruamel's round-trip tree (it knows its own lines), and the line
    where it starts (a scalar document knows no line of its own)."""

    data: Any
    line: int


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path``, as ruamel's round-trip tree (it knows its own lines)."""
    return read_document(path).data


def read_document(path: Path, *, plain_values: bool = False) -> Document:
    """The one YAML document in ``path``, a regular UTF-8 file of at most ``MAX_FILE_BYTES``;
    with ``plain_values`` (see ``load_document``) as a scenario or a stack holds them."""
    text = _decode(_read_bytes(path), source=str(path))
    return load_document(text, source=str(path), plain_values=plain_values)


def read_text(path: Path, *, limit: int) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (a saved result, say)."""
    return _decode(_read_bytes(path, limit=limit, usual=""), source=str(path))


def _read_bytes(
    path: Path,
    *,
    limit: int = MAX_FILE_BYTES,
    usual: str = "; a scenario is a few kilobytes",
) -> bytes:
    """The file's bytes; a FIFO, a device or a directory is refused, never opened to wait."""
    try:
        kind = _not_regular(os.stat(path).st_mode)
        if kind is None:
            # O_NONBLOCK: should the path become a FIFO after the stat, open must not wait.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as file:
                kind = _not_regular(os.fstat(file.fileno()).st_mode)
                data = b"" if kind else file.read(limit + 1)
    except OSError as error:
        raise ScenarioInvalid(f"{path}: cannot read: {error.strerror or error}") from None
    if kind is not None:
        raise ScenarioInvalid(f"{path}: cannot read: {kind}, not a regular file")
    if len(data) > limit:
        raise ScenarioInvalid(f"{path}: larger than {limit // 1024} KiB{usual}")
    return data


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "a special file"


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _decode(data: bytes, *, source: str) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is allowed); anything else names line and byte."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            raise ScenarioInvalid(f"{source}:1: encoded as {encoding}; save the file as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        line, column = _line_column(data, nul)
        hint = " (is it UTF-16?)" if data.count(b"\0") * 4 >= len(data) else ""
        raise ScenarioInvalid(
            f"{source}:{line}: a NUL byte at column {column}; a scenario is UTF-8 text{hint}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _line_column(data, error.start)
        raise ScenarioInvalid(
            f"{source}:{line}: not UTF-8: byte 0x{data[error.start]:02x} at column {column}; "
            "save the file as UTF-8"
        ) from None


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of the byte at ``offset``."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def load_yaml(text: str, *, source: str) -> Any:
    return load_document(text, source=source).data


def load_document(text: str, *, source: str, plain_values: bool = False) -> Document:
    """The one document in ``text``, its shape checked on the event stream as it is read. With
    ``plain_values``, what a scenario or a stack cannot hold is refused there too: a list or a
    mapping as a key, a tag beyond plain values (``!!binary``, ``!!set``, ``!custom``). Other
    files (a compose file's ``!reset``) may have them."""
    shape = _Shape(source=source, plain_values=plain_values)
    yaml = YAML(typ="rt")
    yaml.Parser = _ShapeCheckingParser
    yaml.parser.shape = shape
    try:
        documents = [doc for doc in yaml.load_all(text) if doc is not None]
        line = shape.first_document_line()
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScenarioInvalid(f"{where}: malformed YAML: {error.problem or error}") from None
    except ReaderError as error:
        where = f"{source}:{text.count(chr(10), 0, error.position) + 1}"
        raise ScenarioInvalid(
            f"{where}: malformed YAML: the character U+{error.character:04X} is not allowed"
        ) from None
    except YAMLError as error:
        raise ScenarioInvalid(f"{source}: malformed YAML: {error}") from None
    if len(documents) != 1:  # _Shape counted the same documents
        raise ScenarioInvalid(f"{source}: expected one YAML document, found {len(documents)}")
    return Document(documents[0], line)


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# Explicit tags that still mean a plain value; any other (!!binary, !!set, !custom) means
# nothing in a scenario.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)


@dataclass
class _Open:
    """A collection being read: its anchor, the nodes counted before it, and, in a mapping,
    whether the next node is a key."""

    anchor: str | None
    before: int
    mapping: bool
    key_next: bool = True


class _Shape:
    """The checks on a document's shape, one event at a time (``see``); each raises
    ScenarioInvalid naming FILE:LINE: nesting too deep, too many nodes once aliases are
    expanded, a second document, an alias inside its own anchor, and (``plain_values``) a list
    or mapping as a key, or a tag such as ``!!binary``."""

    def __init__(self, *, source: str, plain_values: bool) -> None:
        self.source = source
        self.plain_values = plain_values
        self.nodes = 0
        self.open: list[_Open] = []
        self.sizes: dict[str, int] = {}  # nodes an alias stands for
        self.collections: set[str] = set()  # anchors of lists and mappings
        self.starts: list[int] = []  # lines of the non-empty documents
        self.at_root = False

    def first_document_line(self) -> int:
        """The line where the one non-empty document starts; none is an error."""
        if not self.starts:
            raise ScenarioInvalid(f"{self.source}:1: empty: no YAML document in it")
        return self.starts[0]

    def see(self, event: Event) -> None:
        line = event.start_mark.line + 1

        def refuse(problem: str) -> ScenarioInvalid:
            return ScenarioInvalid(f"{self.source}:{line}: {problem}")

        if isinstance(event, DocumentStartEvent):
            self.at_root = True
            return
        if isinstance(event, CollectionEndEvent):
            closed = self.open.pop()
            if closed.anchor is not None:
                self.sizes[closed.anchor] = self.nodes - closed.before
            return
        if not isinstance(event, NodeEvent):
            return
        if self.at_root and not (isinstance(event, ScalarEvent) and _is_null(event)):
            self.starts.append(line)
            if len(self.starts) > 1:
                raise refuse(
                    "a second YAML document; a file holds one (remove the --- line, or split "
                    "the file)"
                )
        self.at_root = False
        tag = getattr(event, "tag", None) if self.plain_values else None
        if tag is not None and tag != "!" and tag not in _PLAIN_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise refuse(f"the tag {shown} means nothing in a scenario (it holds plain values)")
        if self.plain_values and self.open and self.open[-1].mapping:
            in_mapping = self.open[-1]
            is_key, in_mapping.key_next = in_mapping.key_next, not in_mapping.key_next
            composite = isinstance(event, CollectionStartEvent) or (
                isinstance(event, AliasEvent) and event.anchor in self.collections
            )
            if is_key and composite:
                raise refuse("a key must be a plain value (a name), not a list or a mapping")
        if isinstance(event, AliasEvent):
            if any(event.anchor == collection.anchor for collection in self.open):
                raise refuse(f"alias *{event.anchor} refers to a node that contains it")
            self.nodes += self.sizes.get(event.anchor, 1)  # an unknown anchor: the composer's
        else:
            self.nodes += 1
        if self.nodes > MAX_NODES:
            raise refuse(
                f"more than {MAX_NODES:,} YAML nodes (an alias counts as everything its anchor "
                "holds, each time); a scenario has a few hundred"
            )
        if isinstance(event, CollectionStartEvent):
            if len(self.open) >= MAX_DEPTH:
                raise refuse(
                    f"nested more than {MAX_DEPTH} levels deep; a scenario needs about ten"
                )
            self.open.append(_Open(event.anchor, self.nodes, isinstance(event, MappingStartEvent)))
            if event.anchor is not None:
                self.collections.add(event.anchor)
        elif isinstance(event, ScalarEvent) and event.anchor is not None:
            self.sizes[event.anchor] = 1


class _ShapeCheckingParser(RoundTripParser):
    """ruamel's round-trip parser, each event checked as the composer takes it: the text is
    parsed once, and a document too deep or too large is refused before it is composed."""

    shape: _Shape

    def get_event(self) -> Any:
        event = super().get_event()
        self.shape.see(event)
        return event


def _is_null(event: ScalarEvent) -> bool:
    return event.style is None and event.tag is None and event.value in _NULLS
