"""What goes wrong between a control client and a fault proxy, on either side of the API.

Refused               the proxy refuses a request (server side): an HTTP status and a message,
                      answered as Toxiproxy does, ``{"error": message, "status": status}``
PlatformError
└── ProxyControlError the client's view: the proxy refused, or could not be reached
"""

from __future__ import annotations

from test_coordinator.errors import PlatformError

__all__ = ["ProxyControlError", "Refused"]


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
