"""The client of ``serve``'s API, for ``apply -f FILE``, ``get --server`` and ``delete NAME``:
kubectl's verbs against a service instead of a cluster.

The standard library's HTTP client: these commands stay as quick to start as the others.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from test_coordinator.errors import PlatformError, ScenarioInvalid, TestCoordinatorError

__all__ = ["ApiClient", "ApiError", "read_token"]

TIMEOUT = 60.0  # a delete waits for the run's faults to be undone


class ApiError(TestCoordinatorError):
    """The service refused: its message and problems, and the HTTP status."""

    def __init__(self, status: int, message: str, problems: list[str]) -> None:
        self.status = status
        self.problems = problems
        super().__init__("\n".join([message, *problems]) if problems else message)
        self.exit_code = ScenarioInvalid.exit_code if status in (400, 404, 409, 413) else 3


def read_token(path: Path | None) -> str | None:
    """``--token-file``, else ``API_TOKEN_FILE``; None when neither is given."""
    if path is None and os.environ.get("API_TOKEN_FILE"):
        path = Path(os.environ["API_TOKEN_FILE"])
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ScenarioInvalid(f"--token-file {path}: cannot read: {error.strerror}") from None


@dataclass(frozen=True)
class ApiClient:
    server: str
    token: str | None = None

    def list(self) -> dict[str, Any]:
        return self._call("GET", "/api/v1/scenarios")

    def put(self, name: str, body: bytes, *, content_type: str) -> tuple[int, dict[str, Any]]:
        return self._send("PUT", f"/api/v1/scenarios/{name}", body, content_type)

    def delete(self, name: str) -> dict[str, Any]:
        return self._call("DELETE", f"/api/v1/scenarios/{name}")

    def abort(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/api/v1/scenarios/{name}/abort")

    def _call(self, method: str, path: str) -> dict[str, Any]:
        return self._send(method, path, None, None)[1]

    def _send(
        self, method: str, path: str, body: bytes | None, content_type: str | None
    ) -> tuple[int, dict[str, Any]]:
        url = self.server.rstrip("/") + path
        if not url.startswith(("http://", "https://")):
            raise ScenarioInvalid(f"--server {self.server}: expected http://HOST:PORT")
        request = urllib.request.Request(url, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            answer = _json(error.read())
            message = str(answer.get("error") or error.reason)
            raise ApiError(error.code, message, list(answer.get("problems") or [])) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PlatformError(f"cannot reach {self.server}: {reason}") from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode("utf-8", "replace")}
    return data if isinstance(data, dict) else {"items": data}
