"""Addresses and ``--proxy`` specs as the command line and the API take them."""

from __future__ import annotations

import pytest
from test_coordinator.proxy import format_address, parse_address
from test_coordinator.proxy.runner import ProxySpec, parse_proxy_spec


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:8474", ("127.0.0.1", 8474)),
        ("risk-monitor:50051", ("risk-monitor", 50051)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:65535", ("0.0.0.0", 65535)),
    ],
)
def test_host_and_port(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address
    assert parse_address(format_address(address)) == address


def test_a_default_host_admits_a_port_alone() -> None:
    assert parse_address("8474", default_host="127.0.0.1") == ("127.0.0.1", 8474)
    assert parse_address(":8474", default_host="127.0.0.1") == ("127.0.0.1", 8474)


@pytest.mark.parametrize("text", ["8474", ":8474", "host", "host:", "host:http", "h:65536", ""])
def test_refusals_say_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_address(text)


def test_proxy_spec() -> None:
    assert parse_proxy_spec("grpc=127.0.0.1:7001,risk:50051") == ProxySpec(
        "grpc", ("127.0.0.1", 7001), ("risk", 50051)
    )
    for text in ("grpc", "=127.0.0.1:1,127.0.0.1:2", "grpc=127.0.0.1:1"):
        with pytest.raises(ValueError, match="expected NAME=LISTEN_HOST:PORT,UPSTREAM_HOST:PORT"):
            parse_proxy_spec(text)
