"""Every sequence number the producer issued during the run is in the stream exactly once.

"During the run" starts after the entry the stream ended with when the run began (the check's
``Baseline``, taken by the engine before the steady state): the first number expected is that
entry's plus one. It ends with the last number issued: the producer's counter (``sequenceKey``)
when given, read before the stream so that every number it counts has had its entry written,
else the highest number in the stream. Outside a run (no baseline) the whole stream is read
and the numbers are expected from the lowest one in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from redis.exceptions import RedisError

from test_coordinator.checks.base import (
    Baseline,
    NoEndpoint,
    Observation,
    ProbeContext,
    describe_error,
    failed,
    resolve,
    short,
    unavailable,
)
from test_coordinator.checks.streams import (
    UNREACHABLE,
    Entry,
    TooManyEntries,
    connect,
    last_entry_id,
    read_entries,
)
from test_coordinator.scenario.model import NoLossProbe

__all__ = ["no_loss_baseline", "observe_no_loss"]

_EMPTY = "0-0"  # the position of a stream that held nothing when the run began
_LISTED = 6  # numbers (or ranges of them) named in a finding
_ANY_REDIS_ERROR: tuple[type[Exception], ...] = (*UNREACHABLE, RedisError)


async def no_loss_baseline(spec: NoLossProbe, ctx: ProbeContext) -> Baseline:
    endpoint = (await resolve(spec.redis, ctx, default_port="redis"))[0]
    try:
        async with connect(endpoint) as client:
            last = await last_entry_id(client, spec.stream)
    except _ANY_REDIS_ERROR as exc:
        return Baseline(position=None, problem=f"{spec.stream} at {endpoint}: {_reason(exc)}")
    return Baseline(position=last or _EMPTY)


async def observe_no_loss(spec: NoLossProbe, ctx: ProbeContext) -> Observation:
    baseline = ctx.baseline or Baseline(position=_EMPTY)
    if baseline.position is None:
        return unavailable(f"could not read the stream as the run began: {baseline.problem}")
    try:
        endpoint = (await resolve(spec.redis, ctx, default_port="redis"))[0]
    except NoEndpoint as exc:
        return unavailable(f"cannot read {spec.stream}: {exc}")
    try:
        async with connect(endpoint) as client:
            counter = await client.get(spec.sequence_key) if spec.sequence_key else None
            entries = await read_entries(client, spec.stream, baseline.position)
    except UNREACHABLE as exc:
        return unavailable(f"cannot read {spec.stream} at {endpoint}: {describe_error(exc)}")
    except (RedisError, TooManyEntries) as exc:  # answered, but not as a stream and a counter
        return failed(f"{spec.stream}: {_reason(exc)}")
    issued = _number(counter) if counter is not None else None
    if spec.sequence_key and counter is not None and issued is None:
        return failed(f"{spec.sequence_key} holds {str(counter)[:20]!r}, not a number")
    return _judge(spec, baseline.position, entries, issued)


def _judge(
    spec: NoLossProbe, position: str, entries: list[Entry], issued: int | None
) -> Observation:
    start: int | None = None  # the number the stream ended with when the run began
    if position != _EMPTY:
        if not entries or entries[0][0] != position:
            return failed(
                f"the entry {spec.stream} ended with when the run began ({position}) is gone: "
                "the stream was trimmed, deleted or lost"
            )
        start = _number(entries[0][1].get(spec.sequence_field))
        entries = entries[1:]
    numbers = [_number(fields.get(spec.sequence_field)) for _, fields in entries]
    seen = Counter(number for number in numbers if number is not None)
    unnumbered = len(numbers) - seen.total()
    if not seen:
        return failed(
            f"no entry with a number in {spec.sequence_field} since the run began "
            f"({len(entries)} entries): is the producer writing to {spec.stream}?"
        )
    low = start + 1 if start is not None else min(seen)
    high = max(issued or 0, max(seen))
    missing = [number for number in range(low, high + 1) if number not in seen]
    # A number issued before the run and recorded again during it is a duplicate, too.
    duplicated = sorted(n for n, count in seen.items() if count > 1 or n < low)
    extra = f"; {unnumbered} entries without {spec.sequence_field}" if unnumbered else ""
    span = f"{low}-{high}" if high > low else str(low)
    if missing or duplicated:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing ({_ranges(missing)})")
        if duplicated:
            problems.append(f"{len(duplicated)} duplicated ({_ranges(duplicated)})")
        return failed(f"{' and '.join(problems)} of {span}{extra}")
    return Observation(
        passed=True, observed=short(f"{high - low + 1} numbers {span}, each once{extra}")
    )


def _number(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _ranges(numbers: Iterable[int]) -> str:
    """``3, 7-9, 12`` for 3, 7, 8, 9, 12; the first few ranges only."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    text = [str(a) if a == b else f"{a}-{b}" for a, b in spans[:_LISTED]]
    if len(spans) > _LISTED:
        text.append("…")
    return ", ".join(text)


def _reason(exc: BaseException) -> str:
    return describe_error(exc) if isinstance(exc, UNREACHABLE) else str(exc)
