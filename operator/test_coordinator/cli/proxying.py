"""``proxy``: fault proxies and their control API, standalone."""

from __future__ import annotations

import argparse

from test_coordinator.report.text import Printer

__all__ = ["proxy_command"]


def proxy_command(args: argparse.Namespace, console: Printer) -> int:
    from test_coordinator.proxy import run_proxy_command  # aiohttp loads for this command only

    return run_proxy_command(
        listen=args.listen,
        upstream=args.upstream,
        name=args.name,
        proxies=args.proxy,
        control=args.control,
    )
