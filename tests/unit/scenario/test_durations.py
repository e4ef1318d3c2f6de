"""Durations as written in YAML, as seconds in Python, and as the CRD schema describes them."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from test_coordinator.scenario.durations import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h2m3s", 3723.0),
        ("1.5s", 1.5),
        ("0.5ms", 0.0005),
        ("0s", 0.0),
    ],
)
def test_parse_duration_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("number", [3, 2.5, 0])
def test_a_bare_number_is_refused_with_the_unit_to_add(number: float) -> None:
    # The CRD schema says string: a number that loads locally would be refused on a cluster.
    with pytest.raises(ValueError, match=f"expected a duration with a unit such as {number}s"):
        parse_duration(number)


@pytest.mark.parametrize(
    "value",
    ["-3s", "30x", "", "30", "s", "1.s", ".5s", "1m 30s", "5 seconds", True, False, None, -1],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


def test_rejection_says_what_was_given() -> None:
    with pytest.raises(ValueError, match="'30x'"):
        parse_duration("30x")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250ms"),
        (0.001, "1ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (30.0, "30s"),
        (60.0, "1m"),
        (90.0, "90s"),
        (300.0, "5m"),
        (3600.0, "1h"),
        (5400.0, "90m"),
        (7200.0, "2h"),
        (0.0, "0s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "text",
    [
        "250ms",
        "30s",
        "5m",
        "1h",
        "1m30s",
        "1.5s",
        "1.25s",
        "61.5s",
        "3601s",
        "100ms",
        "70ms",
        "0s",
        # Edge values that every string the schema accepts may take:
        "0.5ms",  # below a millisecond
        "1000001s",  # more than six significant digits
    ],
)
def test_format_duration_round_trips(text: str) -> None:
    seconds = parse_duration(text)

    formatted = format_duration(seconds)

    assert parse_duration(formatted) == pytest.approx(seconds, rel=1e-9, abs=1e-12), formatted


@pytest.mark.parametrize("seconds", [0.1, 0.75, 2.0, 45.0, 120.0, 150.0, 600.0, 86400.0])
def test_formatted_seconds_parse_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_json_schema_is_a_string_with_a_pattern() -> None:
    schema = TypeAdapter(Duration).json_schema()

    assert schema["type"] == "string"
    assert "pattern" in schema


def _schema_accepts(text: str) -> bool:
    pattern = TypeAdapter(Duration).json_schema()["pattern"]
    # JSON Schema patterns are unanchored searches; this one carries its own ^ and $.
    return re.search(pattern, text) is not None


def _parser_accepts(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "text",
    [
        "250ms",
        "30s",
        "5m",
        "1h",
        "1m30s",
        "1.5s",
        "0.5ms",
        "1h2m3s",
        "-3s",
        "30x",
        "",
        "30",
        "1.s",
        ".5s",
        "1m 30s",
        "ms",
        "30s ",
        " 30s",
    ],
)
def test_schema_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    assert _schema_accepts(text) == _parser_accepts(text), (
        f"{text!r}: schema {_schema_accepts(text)}, parser {_parser_accepts(text)}"
    )


class _Timed(BaseModel):
    timeout: Duration


def test_duration_field_validates_and_serialises() -> None:
    model = _Timed.model_validate({"timeout": "1m30s"})

    assert model.timeout == 90.0
    assert model.model_dump(mode="json") == {"timeout": "90s"}


def test_duration_field_error_names_the_input() -> None:
    with pytest.raises(ValidationError, match="expected a duration such as"):
        _Timed.model_validate({"timeout": "soon"})


@pytest.mark.parametrize("text", ["\uff15s", "\u0661\u0660s", "1\u0665ms", "\u00b2s"])
def test_only_ascii_digits_make_a_duration(text: str) -> None:
    # The CRD schema's [0-9]; Python's \d would take these, and the cluster would refuse them.
    with pytest.raises(ValueError, match="expected a duration such as 250ms"):
        parse_duration(text)


def test_a_duration_longer_than_32_characters_is_refused_before_it_is_read() -> None:
    with pytest.raises(ValueError, match=r"at most 32 characters, got 401 \('999999999999'…\)"):
        parse_duration("9" * 400 + "s")  # float() of it is infinity


@pytest.mark.parametrize("text", ["720h1ms", "721h", "43201m", "2592001s", "99999999999999999h"])
def test_a_duration_is_at_most_30_days(text: str) -> None:
    with pytest.raises(ValueError, match="at most 30 days"):
        parse_duration(text)


def test_thirty_days_is_a_duration() -> None:
    assert parse_duration("720h") == 30 * 24 * 3600.0
    assert parse_duration("719h59m59s999ms") < 30 * 24 * 3600.0


def test_the_schema_bounds_the_length() -> None:
    schema = TypeAdapter(Duration).json_schema()

    assert schema["maxLength"] == 32
