"""Transfer rates as written in YAML, as bytes per second in Python, and in the CRD schema."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel
from test_coordinator.scenario.rates import RATE_PATTERN, Rate, format_rate, parse_rate


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("64KiB/s", 65536.0),
        ("500kB/s", 500_000.0),
        ("500KB/s", 500_000.0),  # as Toxiproxy counts: a thousand bytes
        ("1MB/s", 1_000_000.0),
        ("1.5MiB/s", 1.5 * 1024**2),
        ("2GB/s", 2e9),
        ("1GiB/s", 1024.0**3),
        ("1500B/s", 1500.0),
    ],
)
def test_rates_in_bytes_per_second(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("number", [64, 1.5, 0])
def test_a_bare_number_is_refused_with_the_unit_to_add(number: float) -> None:
    with pytest.raises(ValueError, match=f"expected a rate with a unit such as {number}KiB/s"):
        parse_rate(number)


@pytest.mark.parametrize("bits", ["8Mb/s", "100kbps", "1Gbit/s", "64kb/s"])
def test_bits_are_refused_as_bits(bits: str) -> None:
    with pytest.raises(ValueError, match="a lower-case b is bits"):
        parse_rate(bits)


@pytest.mark.parametrize(
    "value",
    [
        "64KiB",
        "64 KiB/s",
        "64kIB/s",
        "64KiB/m",
        "KiB/s",
        "-1KB/s",
        "1.KB/s",
        "\uff16\uff14KB/s",
        "",
        None,
    ],
)
def test_anything_else_is_refused_naming_the_units(value: object) -> None:
    with pytest.raises(ValueError, match="expected a rate such as 64KiB/s"):
        parse_rate(value)


def test_zero_would_be_unlimited_and_is_refused() -> None:
    with pytest.raises(ValueError, match="0 would mean unlimited"):
        parse_rate("0KB/s")


def test_long_and_huge_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 32 characters"):
        parse_rate("9" * 40 + "B/s")
    with pytest.raises(ValueError, match="at most 1000GB/s"):
        parse_rate("2000GB/s")


@pytest.mark.parametrize("text", ["64KiB/s", "1MB/s", "1500B/s", "3GiB/s", "1.5kB/s", "1000kB/s"])
def test_format_reads_back_as_the_same_rate(text: str) -> None:
    assert parse_rate(format_rate(parse_rate(text))) == parse_rate(text)
    assert format_rate(parse_rate("1000kB/s")) == "1MB/s"
    assert format_rate(65536.0) == "64KiB/s"


def test_the_schema_pattern_admits_exactly_what_parses() -> None:
    pattern = re.compile(RATE_PATTERN)
    for good in ("64KiB/s", "1.5MB/s", "10B/s"):
        assert pattern.match(good)
    for bad in ("64kb/s", "64 KiB/s", "64KiB"):
        assert not pattern.match(bad)


def test_a_model_field_reads_and_writes_the_text() -> None:
    class Limit(BaseModel):
        rate: Rate

    limit = Limit.model_validate({"rate": "64KiB/s"})
    assert limit.rate == 65536.0
    assert limit.model_dump(mode="json") == {"rate": "64KiB/s"}
    assert Limit.model_json_schema()["properties"]["rate"]["pattern"] == RATE_PATTERN
