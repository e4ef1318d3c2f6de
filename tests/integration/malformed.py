"""Malformed scenarios, derived from the bundled ones by a seeded generator.

Each case is a file that must be refused, and a pattern its refusal must match: the file, a
line and the field path (``FILE:LINE: spec.steps[0].fault.kill.target: ``), or the file and a
line for what is wrong below the fields (bytes, YAML, shape). Every mutation is invalid by
construction: a type the field cannot take, a key no model has, a required field dropped, a
value out of range, a text cut before ``steps:``... so a case that validates is a bug.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from test_coordinator.scenario.crd import openapi_schema
from test_coordinator.scenario.durations import DURATION_PATTERN

__all__ = ["SOURCES", "Case", "malformed_cases"]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    {
        path.read_text(): path
        for path in [
            *ROOT.glob("scenarios/**/*.yaml"),
            ROOT / "operator/test_coordinator/demo/scenario.yaml",
        ]
        if "kind: ChaosScenario" in path.read_text()
    }.values()
)
"""Every bundled scenario, once (the demo's is also scenarios/local's)."""
STACKS = sorted(ROOT.glob("scenarios/**/*stack*.yaml"))
"""Stack files the scenarios name, to be copied beside the cases."""

Path_ = tuple[str | int, ...]

# Maps whose keys are the user's (labels, match fields): an unknown key there is no error.
FREE_FORM = frozenset({"selector", "match", "labels", "annotations"})


@dataclass(frozen=True)
class Case:
    kind: str
    file_name: str
    content: bytes
    expected: str
    """A regular expression the refusal must match, with FILE standing for the file's path."""

    def pattern(self, path: Path) -> re.Pattern[str]:
        return re.compile(self.expected.replace("FILE", re.escape(str(path))))


def dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def field_problem(path: Path_) -> str:
    return rf"FILE:\d+: {re.escape(dotted(path))}: "


def field_or_below(path: Path_) -> str:
    """The field, or one inside it (a fault has no ``address``: its own fields are missing)."""
    return rf"FILE:\d+: {re.escape(dotted(path))}[.:\[]"


def line_problem(what: str) -> str:
    return rf"FILE:\d+: {what}"


# --- walking a document and the CRD schema beside it -----------------------------------------


def nodes(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from nodes(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from nodes(value, (*path, index))


def get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def replaced(data: Any, path: Path_, value: Any) -> Any:
    data = copy.deepcopy(data)
    *parents, last = path
    get(data, tuple(parents))[last] = value
    return data


def dropped(data: Any, path: Path_) -> Any:
    data = copy.deepcopy(data)
    *parents, last = path
    del get(data, tuple(parents))[last]
    return data


SCHEMA = openapi_schema()


def schema_at(path: Path_) -> dict[str, Any]:
    node: dict[str, Any] = SCHEMA
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node


def is_model(path: Path_, value: Any) -> bool:
    """A mapping the model checks key by key: not user-keyed, not metadata (which keeps what
    an API server adds), not ``spec.targets`` (keyed by target name)."""
    if not isinstance(value, dict) or (path and path[0] == "metadata"):
        return False
    if any(part in FREE_FORM for part in path if isinstance(part, str)):
        return False
    return path != ("spec", "targets")


def required(path: Path_) -> list[str]:
    if path == ():
        return ["apiVersion", "kind", "metadata", "spec"]
    if path == ("metadata",):
        return ["name"]
    return list(schema_at(path).get("required", []))


# --- emitting a document as text -------------------------------------------------------------


def as_yaml(data: Any) -> str:
    # PyYAML's C emitter: ruamel's pure-Python one would take most of the test's time.
    dumped: str = yaml.dump(
        data, Dumper=yaml.CSafeDumper, sort_keys=False, width=4096, allow_unicode=True
    )
    return dumped


def as_text(data: Any, rng: random.Random) -> str:
    """Block YAML or JSON (which is YAML too), so that both carry lines."""
    return as_yaml(data) if rng.random() < 0.5 else json.dumps(data, indent=2) + "\n"


# --- the mutations ---------------------------------------------------------------------------


def wrong_types(data: Any, rng: random.Random) -> Iterator[tuple[Any, str]]:
    """Every value replaced by one of a type its field cannot take."""
    for path, value in nodes(data):
        if not path or value is None:
            continue
        if isinstance(value, dict):
            choices: list[Any] = [7, ["x"], "text"]
        elif isinstance(value, list):
            choices = ["text", {"k": 1}, 3]
        elif isinstance(value, bool):
            choices = ["yes", 1, ["true"]]
        elif isinstance(value, int):
            choices = ["12", True, [1], 1.5]
        elif isinstance(value, float):
            choices = [str(value), False, [value]]
        elif path[-1] == "port":  # a port name: a number would be a valid port
            choices = [["grpc"], {"name": "grpc"}, False]
        else:
            choices = [[value], {"value": value}, True, 42]
        yield replaced(data, path, rng.choice(choices)), field_problem(path)


UNKNOWN_KEYS = ["bogus", "[/k]", "mdoe", "Name", "ünïcode", "a.b", ":smile:", "[bold]x[/bold]"]


def unknown_keys(data: Any, rng: random.Random) -> Iterator[tuple[Any, str]]:
    for path, value in nodes(data):
        if is_model(path, value):
            key = rng.choice(UNKNOWN_KEYS)
            yield (
                replaced(data, (*path, key), 1) if path else {**data, key: 1},
                field_problem((*path, key)),
            )


def dropped_required(data: Any, rng: random.Random) -> Iterator[tuple[Any, str]]:
    for path, value in nodes(data):
        if isinstance(value, dict) and (is_model(path, value) or path == ("metadata",)):
            for key in required(path):
                if key in value:
                    yield dropped(data, (*path, key)), field_problem((*path, key))


BAD_DURATIONS: list[Any] = [
    "soon",
    "5",
    5,
    2.5,
    "-1s",
    "1.s",
    ".5s",
    "\uff15s",
    "\u0661\u0660s",
    "9" * 400 + "s",
    "721h",
    "99999999999999999999h",
    "1h 30m",
    "",
    "1e3s",
    "infs",
    "nans",
    "0x10s",
    "1_000ms",
    "5S",
    "5sec",
    True,
    None,
    ["5s"],
]


OPTIONAL_DURATIONS = frozenset({"duration", "maxLatency", "after"})


def bad_durations(data: Any, rng: random.Random) -> Iterator[tuple[Any, str]]:
    for path, value in nodes(data):
        if schema_at(path).get("pattern") != DURATION_PATTERN or value is None:
            continue
        for bad in rng.sample(BAD_DURATIONS, 4):
            if bad is None and path[-1] in OPTIONAL_DURATIONS:
                continue  # null is "unset" for an optional duration
            yield replaced(data, path, bad), field_problem(path)
        if path[-1] == "interval":
            yield (
                replaced(data, path, rng.choice(["0s", "10ms", "49ms", "0.01s"])),
                (field_problem(path) + "expected an interval of at least 50ms"),
            )


def checks(data: Any) -> Iterator[Path_]:
    """Where each check is: steadyState, during, each step's after, audit."""
    spec = data["spec"]
    for section in ("steadyState", "during", "audit"):
        for index in range(len(spec.get(section, []))):
            yield ("spec", section, index)
    for step, body in enumerate(spec["steps"]):
        for index in range(len(body.get("after", []))):
            yield ("spec", "steps", step, "after", index)


BAD_PORTS: list[Any] = [-1, 0, 65536, 1e12, 10**20, "", " ", "80", "-", "a b", "x" * 64]
BAD_ADDRESSES = ["h:0", "h:65536", "nocolon", ":80", "h:\u0668\u0660", "h:-1", "h:"]
BAD_URLS = ["ftp://x/", "http://h:0/", "http://h:65536/", "http:///x", "http://[::1/x"]


def out_of_range(data: Any, rng: random.Random) -> Iterator[tuple[Any, str]]:
    for path, _ in nodes(data):
        if path and path[-1] == "port":
            for bad in rng.sample(BAD_PORTS, 3):
                yield replaced(data, path, bad), field_problem(path)
            probe = get(data, path[:-1])
            address = {k: v for k, v in probe.items() if k not in ("target", "port")}
            address["address"] = rng.choice(BAD_ADDRESSES)
            yield replaced(data, path[:-1], address), field_or_below(path[:-1])
        if path and path[-1] == "minSuccessRate":
            yield (
                replaced(data, path, rng.choice([1.5, -0.1, 2, float("nan")])),
                field_problem(path),
            )
    for check in checks(data):
        body = get(data, check)
        if "http" in body:
            http = {**body["http"], "expectStatus": [200, rng.choice([99, 600, 1000, -1, 0])]}
            yield (
                replaced(data, (*check, "http"), http),
                field_problem((*check, "http", "expectStatus", 1)),
            )
            url = {k: v for k, v in body["http"].items() if k not in ("target", "port", "path")}
            url["url"] = rng.choice(BAD_URLS)
            yield replaced(data, (*check, "http"), url), field_problem((*check, "http"))
        if "command" in body:
            command = {**body["command"], "expectExitCode": rng.choice([-1, 256, 1000])}
            yield (
                replaced(data, (*check, "command"), command),
                field_problem((*check, "command", "expectExitCode")),
            )
        yield (
            replaced(data, (*check, "timeout"), rng.choice(["0s", "0ms"])),
            field_problem((*check, "timeout")),
        )
    for path, bad in [
        (("metadata", "name"), rng.choice(["UPPER", "[/x]", "-x", "x" * 254, "a b", "é"])),
        (("metadata", "namespace"), rng.choice(["UPPER", "has space", "x" * 64, "x" * 100_000])),
        (("spec", "historyLimit"), rng.choice([-1, 101, 10**9])),
    ]:
        yield replaced(data, path, bad), field_problem(path)
    spec = data["spec"]
    target = next(iter(spec["targets"]))
    where = ("spec", "targets", target)
    for mode, value, at in [
        ("fixed", 0, (*where, "value")),
        ("percent", 101, where),
        ("one", 2, where),
        ("fixed", None, where),
        ("some", None, (*where, "mode")),
    ]:
        selection = {**spec["targets"][target], "mode": mode}
        selection.pop("value", None)
        if value is not None:
            selection["value"] = value
        yield replaced(data, where, selection), field_problem(at)
    for index, step in enumerate(spec["steps"]):
        scale = {"scale": {"target": target, "replicas": rng.choice([-1, 10_001, True])}}
        timed = {**step, "fault": scale, "duration": "5s"}
        yield (
            replaced(data, ("spec", "steps", index), timed),
            field_problem(("spec", "steps", index, "fault", "scale", "replicas")),
        )
        yield (
            replaced(data, ("spec", "steps", index, "fault"), {}),
            field_problem(("spec", "steps", index, "fault")),
        )
        unknown = {"kill": {"target": rng.choice(["nowhere", "[/red]", "[bold]x"])}}
        kill = {key: value for key, value in step.items() if key != "duration"}
        yield (
            replaced(data, ("spec", "steps", index), {**kill, "fault": unknown}),
            (
                field_problem(("spec", "steps", index, "fault", "kill", "target"))
                + f"names target '{re.escape(unknown['kill']['target'])}'"
            ),
        )
    if any(step.get("after") or step.get("duration") for step in spec["steps"]):
        # after-checks wait up to 30s by default: 1ms is shorter than the run's own deadlines
        yield (
            replaced(data, ("spec", "timeout"), "1ms"),
            (field_problem(("spec", "timeout")) + "1ms is shorter than the run's own deadlines"),
        )
    # Names used twice, in markup: each second one named, the markup shown as it is.
    [first, *_] = checks(data)
    section, index = first[:-1], len(get(data, first[:-1]))
    twice = replaced(data, (*first, "name"), "[bold]dup[/bold]")
    get(twice, section).append(get(twice, first))
    yield (
        twice,
        field_problem((*section, index, "name"))
        + re.escape("duplicate check name '[bold]dup[/bold]'"),
    )
    steps = replaced(data, ("spec", "steps", 0, "name"), "[/s]")
    steps["spec"]["steps"].append({"name": "[/s]", "fault": {"kill": {"target": target}}})
    yield (
        steps,
        field_problem(("spec", "steps", len(steps["spec"]["steps"]) - 1, "name"))
        + (re.escape("duplicate step name '[/s]'")),
    )


# --- below the fields: text, bytes, shape ----------------------------------------------------


def texts(source: str, data: Any, rng: random.Random) -> Iterator[tuple[str, bytes, str]]:
    """(kind, content, expected) for mutations of the text or its bytes."""
    lines = source.splitlines(keepends=True)
    for key in ("steps", "metadata", "spec"):
        at = next(i for i, line in enumerate(lines) if re.match(rf"\s*{key}:", line))
        expected = field_problem(("spec", "steps") if key == "steps" else (key,))
        yield "truncated", "".join(lines[:at]).encode(), expected + "required field is missing"
    # Cut just after a flow mapping opens (after ": {", "- {", "[{", ", {"): never closed.
    flows = [
        (i, match.end())
        for i, line in enumerate(lines)
        if (match := re.match(r"[^#\"']*?(?:[:\-\[,{]\s*)\{", line))
    ]
    for index, end in rng.sample(flows, min(3, len(flows))):
        cut = "".join(lines[:index]) + lines[index][:end]
        yield "truncated", cut.encode(), line_problem("malformed YAML: ")
    for at in rng.sample(range(1, len(lines)), 3):
        cut = "".join(lines[:at]) + '"an unterminated string\n'
        yield "truncated", cut.encode(), line_problem("malformed YAML: ")

    raw = source.encode()
    description = raw.find(b"description:")
    if description >= 0:
        latin = raw[:description] + b"description: caf\xe9 " + raw[description + 12 :]
        yield "encoding", latin, line_problem("not UTF-8: byte 0xe9 at column ")
    for encoding, name in (("utf-16", "UTF-16"), ("utf-32", "UTF-32")):
        yield "encoding", source.encode(encoding), rf"FILE:1: encoded as {name}; save the file"
    yield "encoding", source.encode("utf-16-le"), line_problem("a NUL byte at column ")
    for bad in (b"\xff\xfe\xfd", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"):
        at = rng.randrange(len(raw))
        yield "encoding", raw[:at] + bad + raw[at:], line_problem("not UTF-8: byte 0x")
    for _ in range(3):
        at = rng.randrange(len(raw))
        yield "encoding", raw[:at] + b"\0" + raw[at:], line_problem("a NUL byte at column ")
    for control in ("\x01", "\x1b", "\x7f", "\x08"):
        at = rng.randrange(len(source))
        text = source[:at] + control + source[at:]
        yield "encoding", text.encode(), line_problem("malformed YAML: the character U\\+00")
    noise = bytes(rng.randrange(128, 256) for _ in range(64))
    yield "encoding", b"\xff" + noise + raw, r"FILE:1: not UTF-8: byte 0xff at column 1"

    deep = "[" * 1000
    yield "nesting", deep.encode(), r"FILE:1: nested more than 64 levels deep"
    yield "nesting", ("{a: " * 1000).encode(), r"FILE:1: nested more than 64 levels deep"
    nested: Any = "x"
    for _ in range(70):
        nested = [nested] if rng.random() < 0.5 else {"k": nested}
    yaml_text = as_yaml(replaced(data, ("spec", "description"), nested))
    yield "nesting", yaml_text.encode(), line_problem("nested more than 64 levels deep")
    block = "spec:\n" + "".join(f"{'  ' * i}- \n" for i in range(1, 100))
    yield "nesting", block.encode(), line_problem("nested more than 64 levels deep")

    block_yaml = as_yaml(data)
    lol = ["  lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    for level in range(1, 9):
        lol.append(f"  lol{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]\n")
    for bomb, expected in (
        ("".join(lol), "more than 10,000 YAML nodes"),
        ("  loop: &loop [1, {again: *loop}]\n", "alias \\*loop refers to a node that contains it"),
        ("  ghost: *nowhere\n", "malformed YAML: "),
    ):
        text = block_yaml.replace("metadata:\n", "metadata:\n" + bomb, 1)
        yield "aliases", text.encode(), line_problem(expected)

    for line, expected in (
        ("  ? {a: 1}\n  : x\n", "a key must be a plain value"),
        ("  ? [a, b]\n  : x\n", "a key must be a plain value"),
        ("  other: !!binary aGVsbG8=\n", "the tag !!binary means nothing"),
        ("  other: !!set {a}\n", "the tag !!set means nothing"),
        ("  other: !custom x\n", "the tag !custom means nothing"),
    ):  # a line more in spec, which is a mapping indented by two
        text = block_yaml.replace("spec:\n", "spec:\n" + line, 1)
        yield "tags and keys", text.encode(), line_problem(expected)
    yield "documents", (source + "\n---\n" + source).encode(), line_problem("a second YAML doc")
    yield "documents", as_yaml([data]).encode(), line_problem("expected a mapping")
    yield "documents", b"just a string\n", line_problem("expected a mapping")
    yield "documents", b"# only a comment\n", r"FILE:1: empty: no YAML document"
    yield "documents", b"", r"FILE:1: empty: no YAML document"


STRUCTURAL: list[tuple[str, Callable[[Any, random.Random], Iterator[tuple[Any, str]]]]] = [
    ("wrong type", wrong_types),
    ("unknown key", unknown_keys),
    ("dropped key", dropped_required),
    ("bad duration", bad_durations),
    ("out of range", out_of_range),
]

# File names are input too: some cases carry markup, spaces or quotes in theirs. "[/x]" makes
# the path a file in a directory named "[": the path as printed holds a closing tag.
FILE_NAMES = ["{n}.yaml", "[bold]{n}.yaml", "[/x]{n}.yaml", "{n} :smile:.yaml", "it's {n}.yml"]


def malformed_cases(seed: int, *, total: int = 1200) -> list[Case]:
    """``total`` cases: every mutation of the text and bytes (a few hundred), and a seeded
    sample of the many mutations of the fields, each kind in proportion."""
    rng = random.Random(seed)
    loader = YAML(typ="safe", pure=True)
    below: list[tuple[str, bytes, str]] = []
    fields: list[tuple[str, bytes, str]] = []
    for source_path in SOURCES:
        source = source_path.read_text()
        data = json.loads(json.dumps(loader.load(source)))  # plain dicts and lists
        for kind, mutate in STRUCTURAL:
            fields += [
                (kind, as_text(mutated, rng).encode(), expected)
                for mutated, expected in mutate(data, rng)
            ]
        below += texts(source, data, rng)
    chosen = below + rng.sample(fields, max(0, min(len(fields), total - len(below))))
    cases = []
    for index, (kind, content, expected) in enumerate(chosen):
        name = rng.choice(FILE_NAMES).format(n=f"{index:04d}-{kind.replace(' ', '-')}")
        cases.append(Case(kind, name, content, expected))
    return cases
