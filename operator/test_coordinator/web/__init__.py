"""The dashboard: read-only pages over the run store and the runs in progress, added to an
aiohttp application (the operator's or ``serve``'s HTTP port).

    app = web.Application()
    board = LiveBoard()                      # or anything with current_runs()
    add_dashboard(app, store, live=board)    # store: history.open_store(url)
    await run_scenario(scenario, platform, observer=Observers([..., board.observer(scenario)]))
"""

from test_coordinator.web.live import LiveBoard, LiveRun, LiveRuns
from test_coordinator.web.routes import add_dashboard

__all__ = ["LiveBoard", "LiveRun", "LiveRuns", "add_dashboard"]
