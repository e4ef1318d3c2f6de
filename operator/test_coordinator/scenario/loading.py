"""YAML in, a validated ``ChaosScenario`` out, or every problem at once with file, line and field.

Problems read like a compiler's: ``risk.yaml:14: spec.steps[0].fault.kill.target: ...``. The
file itself (its bytes, its YAML, its shape) is ``reading.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml.comments import TaggedScalar
from ruamel.yaml.scalarbool import ScalarBoolean

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import (
    Addressed,
    AuditApi,
    ChaosScenario,
    HttpProbe,
    Probe,
    ScenarioSpec,
    TcpProbe,
)
from test_coordinator.scenario.reading import load_yaml, read_document, read_yaml

__all__ = [
    "Loc",
    "expect_mapping",
    "format_errors",
    "kind_of",
    "load_scenario",
    "load_yaml",
    "parse_scenario",
    "plain",
    "read_yaml",
]

Loc = tuple[str | int, ...]


def load_scenario(path: Path | str) -> ChaosScenario:
    path = Path(path)
    document = read_document(path, plain_values=True)
    return parse_scenario(document.data, source=str(path), line=document.line)


def parse_scenario(data: Any, *, source: str, line: int | None = None) -> ChaosScenario:
    """Validate ``data`` (a mapping, e.g. from YAML or a Kubernetes object) as a scenario;
    ``line`` is where the document starts, for a problem with the document as a whole."""
    expect_mapping(data, source=source, line=line, what="a ChaosScenario")
    try:
        scenario = ChaosScenario.model_validate(plain(data))
    except ValidationError as error:
        raise ScenarioInvalid(format_errors(error, data=data, source=source)) from None
    problems = list(reference_problems(scenario))
    if problems:
        raise ScenarioInvalid([format_problem(loc, msg, data, source) for loc, msg in problems])
    return scenario


def expect_mapping(data: Any, *, source: str, line: int | None, what: str) -> None:
    if isinstance(data, Mapping):
        return
    lc = getattr(data, "lc", None)
    line = lc.line + 1 if lc is not None else line
    where = f"{source}:{line}" if line else source
    raise ScenarioInvalid(f"{where}: expected a mapping ({what}), got {kind_of(data)}")


def plain(node: Any) -> Any:
    """``node`` as plain Python values: ruamel's round-trip types subclass them loosely (an
    anchored ``true`` is an ``int``), and the model checks types strictly."""
    if isinstance(node, Mapping):
        return {plain(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, TaggedScalar):  # "!!str 5": the one tag reading lets through
        return str(node.value)
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def reference_problems(scenario: ChaosScenario) -> Iterator[tuple[Loc, str]]:
    """Rules across fields: targets that exist, unique names, probes that say where to look."""
    spec = scenario.spec
    targets = sorted(spec.targets)

    def unknown(name: str) -> str:
        return f"names target {name!r}, which spec.targets does not define ({', '.join(targets)})"

    seen_checks: dict[str, Loc] = {}
    checks: list[tuple[Loc, Probe, str]] = [
        (("spec", "steadyState", i), c, c.name) for i, c in enumerate(spec.steady_state)
    ]
    checks += [(("spec", "during", i), c, c.name) for i, c in enumerate(spec.during)]
    seen_steps: set[str] = set()
    for i, step in enumerate(spec.steps):
        step_loc: Loc = ("spec", "steps", i)
        if step.name in seen_steps:
            yield (*step_loc, "name"), f"duplicate step name {step.name!r}"
        seen_steps.add(step.name)
        if step.fault.target not in spec.targets:
            yield (*step_loc, "fault", step.fault.action, "target"), unknown(step.fault.target)
        checks += [((*step_loc, "after", j), c, c.name) for j, c in enumerate(step.after)]
    checks += [(("spec", "audit", i), c, c.name) for i, c in enumerate(spec.audit)]
    for loc, check, name in checks:
        if name in seen_checks:
            yield (
                (*loc, "name"),
                f"duplicate check name {name!r} (first used at {_dotted(seen_checks[name])})",
            )
        seen_checks.setdefault(name, loc)
        yield from _address_problems(loc, check, unknown, targets=spec.targets)
    sink = spec.audit_sink
    if sink is not None and sink.redis_stream is not None:
        where: Loc = ("spec", "auditSink", "redisStream", "redis")
        yield from _target_problems(where, sink.redis_stream.redis, unknown, spec.targets)
    elif sink is not None and sink.http is not None and sink.http.url is None:
        yield from _target_problems(("spec", "auditSink", "http"), sink.http, unknown, spec.targets)
    yield from _timeout_problems(spec)


def _timeout_problems(spec: ScenarioSpec) -> Iterator[tuple[Loc, str]]:
    """A timeout shorter than the run's own deadlines is certain to abort the run."""
    steady = max((check.within for check in spec.steady_state), default=0.0)
    steps = sum(
        (step.duration or 0.0) + max((check.within for check in step.after), default=0.0)
        for step in spec.steps
    )
    audit = max((check.within for check in spec.audit), default=0.0)
    budget = 2 * steady + steps + audit
    if spec.timeout >= budget:
        return
    given = format_duration(spec.timeout)
    if "timeout" not in spec.model_fields_set:
        given += " (the default)"
    yield (
        ("spec", "timeout"),
        f"{given} is shorter than the run's own deadlines, {format_duration(budget)}: "
        f"twice the longest steadyState within ({format_duration(steady)}) + each step's "
        f"duration and longest after-check within ({format_duration(steps)}) + the longest "
        f"audit within ({format_duration(audit)}); the run would be aborted before it could "
        f"end: give a timeout of at least {format_duration(budget)}",
    )


def _address_problems(
    loc: Loc, probe: Probe, unknown: Any, *, targets: Mapping[str, object]
) -> Iterator[tuple[Loc, str]]:
    spec = probe.spec
    kind_loc = (*loc, probe.kind)
    addressed: list[tuple[Loc, Addressed]] = []
    if isinstance(spec, Addressed) and not (isinstance(spec, HttpProbe) and spec.url):
        addressed.append((kind_loc, spec))
    redis = getattr(spec, "redis", None)
    if isinstance(redis, Addressed):
        addressed.append(((*kind_loc, "redis"), redis))
    correlator = getattr(spec, "correlator", None)
    if isinstance(correlator, AuditApi) and not correlator.url:
        addressed.append(((*kind_loc, "correlator"), correlator))
    for where, address in addressed:
        problems = list(_target_problems(where, address, unknown, targets))
        yield from problems
        tcp_without_port = isinstance(spec, TcpProbe) and address.port is None
        if not problems and tcp_without_port and address.address is None:
            yield where, "a tcp check of a target needs a port (a number or a port name)"


def _target_problems(
    where: Loc, address: Addressed, unknown: Any, targets: Mapping[str, object]
) -> Iterator[tuple[Loc, str]]:
    if address.target is not None and address.target not in targets:
        yield (*where, "target"), unknown(address.target)
    elif address.address is None and address.target is None:
        yield where, "expected target (and port), or address (host:port)"


def format_errors(error: ValidationError, *, data: Any, source: str) -> list[str]:
    problems: dict[str, None] = {}  # ordered and deduplicated: union members repeat a problem
    for detail in error.errors(include_url=False):
        loc = _data_loc(detail["loc"], data)
        problems[format_problem(loc, _message(detail), data, source)] = None
    return list(problems)


def format_problem(loc: Loc, message: str, data: Any, source: str) -> str:
    line = _line_of(loc, data)
    where = f"{source}:{line}" if line else source
    return f"{where}: {_dotted(loc) or '(document)'}: {message}"


def _message(detail: ErrorDetails) -> str:
    kind, msg, value = detail["type"], detail["msg"], detail.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        return f"{msg[0].lower()}{msg[1:]}, got {_shown(value)}"
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg[0].lower() + msg[1:] if msg else msg
    if value is not None and not isinstance(value, Mapping | list) and "got" not in msg:
        msg += f", got {_shown(value)}"
    return msg


_SHOWN = 80


def _shown(value: object) -> str:
    """``repr(value)``, cut short: a 100,000-character value is not worth echoing whole."""
    text = repr(value)
    if len(text) <= _SHOWN:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: _SHOWN - 1]}…{size}"


def _data_loc(loc: tuple[int | str, ...], data: Any) -> Loc:
    """Pydantic's loc without the union-member tags it adds (``int``, ``function-after[...]``)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            node = node[part]
        elif isinstance(node, Mapping) and isinstance(part, str) and _is_field_name(part):
            node = None  # a missing field: name it, nothing below it exists
        else:
            continue
        path.append(part)
    return tuple(path)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, Mapping):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


_UNION_TAGS = frozenset({"int", "str", "float", "bool", "none"})


def _is_field_name(part: str) -> bool:
    """False for the tags pydantic puts in a loc for union members: ``int``, ``list[int]``."""
    return part not in _UNION_TAGS and "[" not in part and "-" not in part


def _line_of(loc: Loc, data: Any) -> int | None:
    """1-based line of the deepest part of ``loc`` that the YAML tree knows."""
    line: int | None = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    if line is None and getattr(data, "lc", None) is not None:
        line = data.lc.line + 1
    return line


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def kind_of(value: object) -> str:
    """What a YAML value is, in YAML's words: ``a list``, ``a mapping``, ``a string``."""
    if value is None:
        return "nothing"
    kinds: tuple[tuple[type, str], ...] = (
        (Mapping, "a mapping"),
        (list, "a list"),
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
    )
    return next(
        (name for kind, name in kinds if isinstance(value, kind)), f"a {type(value).__name__}"
    )
