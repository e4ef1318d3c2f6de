"""A process that records runs: ``python -m tests.integration.history.writer URL GO TAG COUNT``.

It says it is ready (the file GO.TAG.ready) and waits for the file GO to exist, so that every
writer of a test starts at the same moment
(a fresh database: they race for its migration too), then records COUNT runs whose ids begin
with TAG, one store open per run, as separate CLI invocations would.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from test_coordinator.history import HistoryUnavailable, open_store

from tests.integration.history.sample_runs import crash_scenario, finished
from tests.unit.report import sample_result


async def write(url: str, tag: str, count: int) -> None:
    scenario = crash_scenario()
    for index in range(count):
        status = finished(f"{tag}-{index}", sample_result.START + timedelta(seconds=index))
        async with open_store(url, timeout=60) as store:
            await store.record(scenario, status, platform="local", source=f"{tag}.yaml")


def main() -> int:
    url, go, tag, count = sys.argv[1:]
    Path(f"{go}.{tag}.ready").touch()
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            print("never told to go", file=sys.stderr)
            return 2
        time.sleep(0.005)
    try:
        asyncio.run(write(url, tag, int(count)))
    except HistoryUnavailable as error:
        print(f"history not written: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
