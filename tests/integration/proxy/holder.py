"""Holds a toxic on a fault proxy until stopped: the stand-in for a runner in lease tests.

    python -m tests.integration.proxy.holder CONTROL_URL PROXY LEASE_SECONDS [TOXIC_NAME]

Prints ``held`` once the toxic is set. SIGINT removes it on the way out; SIGKILL leaves it to
its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from test_coordinator.proxy import ProxyControl, Toxic


async def hold(url: str, proxy: str, lease_seconds: float, name: str = "partition") -> None:
    partition = Toxic.timeout(0, name=name)
    control = ProxyControl(url)
    async with control, control.hold(proxy, partition, lease_seconds=lease_seconds):
        print("held", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    url, proxy, lease, *name = sys.argv[1:]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(hold(url, proxy, float(lease), *name))
