"""`make bench`: every benchmark, one after the other, each printing its figures."""

from __future__ import annotations

import asyncio

from bench import cli, compose, history, kubernetes, proxy, recovery


def main() -> None:
    asyncio.run(recovery.main())
    cli.main()
    asyncio.run(compose.main())
    asyncio.run(kubernetes.main())
    proxy.main()
    asyncio.run(history.main())


if __name__ == "__main__":
    main()
