"""What goes wrong between a control client and a fault proxy, on either side of the API.

Refused               the proxy refuses a request (server side): an HTTP status and a message,
                      answered as Toxiproxy does, ``{"error": message, "status": status}``
PlatformError
└── ProxyControlError the client's view: the proxy refused, or could not be reached
    └── ToxicHeld     a toxic of that name is there, set by another holder
"""

from __future__ import annotations

from test_coordinator.errors import PlatformError

__all__ = ["ProxyControlError", "Refused", "ToxicHeld"]


class Refused(Exception):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ProxyControlError(PlatformError):
    """``status`` is the HTTP status the proxy answered, or None when it could not be reached."""

    def __init__(self, url: str, message: str, *, status: int | None = None) -> None:
        answered = f" answered {status}" if status is not None else ""
        super().__init__(f"fault proxy at {url}{answered}: {message}")
        self.url = url
        self.message = message
        self.status = status


class ToxicHeld(ProxyControlError):
    """The toxic is on the proxy already, set by ``holder``: taking it over would cut short
    the fault of another scenario (or be cut short by its revert)."""

    def __init__(self, url: str, proxy: str, toxic: str, *, holder: str) -> None:
        super().__init__(url, f"toxic {toxic} on proxy {proxy} is held by {holder}", status=409)
        self.holder = holder
