"""Holds a toxic on a fault proxy until stopped: the stand-in for a runner in lease tests.

    python -m tests.integration.proxy.holder CONTROL_URL PROXY LEASE_SECONDS

Prints ``held`` once the toxic is set. SIGINT removes it on the way out; SIGKILL leaves it to
its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from test_coordinator.proxy import ProxyControl, Toxic

PARTITION = Toxic.timeout(0, name="partition")


async def hold(url: str, proxy: str, lease_seconds: float) -> None:
    control = ProxyControl(url)
    async with control, control.hold(proxy, PARTITION, lease_seconds=lease_seconds):
        print("held", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    url, proxy, lease = sys.argv[1:]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(hold(url, proxy, float(lease)))
