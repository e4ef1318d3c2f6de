"""A real headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, with no
driver but aiohttp's websocket client: open a tab, load a page, evaluate JavaScript in it,
watch every request it makes, resize it to a phone, take a screenshot.

The browser is started with the flags this machine needs (no sandbox as root, no background
networking: there is no network beyond loopback) and a fresh profile, and stopped by its PID.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


class ChromiumMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Chromium:
    pid: int
    devtools: str  # the browser's websocket URL


@contextmanager
def chromium(profile: Path) -> Iterator[Chromium]:
    binary = shutil.which("chromium")
    if binary is None:
        raise ChromiumMissing(
            "chromium is not installed: `apt-get install chromium` (.ci/run installs it)"
        )
    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with {process.returncode} before it listened")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port within 60s")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        yield Chromium(process.pid, f"ws://127.0.0.1:{port}{path}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Tab:
    """One page of the browser, over its own DevTools session."""

    socket: aiohttp.ClientWebSocketResponse
    client: aiohttp.ClientSession
    target: str = ""
    session: str = ""
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[str] = field(default_factory=list)  # errors and CSP refusals among them
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _waiting: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _loaded: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        answer = asyncio.get_running_loop().create_future()
        self._waiting[ident] = answer
        await self.socket.send_str(json.dumps(message))
        reply = await asyncio.wait_for(answer, timeout=30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def _read(self) -> None:
        async for frame in self.socket:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if "id" in message:
                waiting = self._waiting.pop(message["id"], None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(message)
                continue
            method, params = message.get("method"), message.get("params", {})
            if method == "Page.loadEventFired":
                self._loaded.set()
            elif method == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif method == "Log.entryAdded":
                self.console.append(params["entry"].get("text", ""))
            elif method == "Runtime.exceptionThrown":
                self.console.append(str(params["exceptionDetails"].get("text", "")))

    async def goto(self, url: str) -> None:
        self._loaded.clear()
        await self.send("Page.navigate", {"url": url})
        await asyncio.wait_for(self._loaded.wait(), timeout=30)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, *, timeout: float = 15.0) -> Any:
        """The value of ``expression`` once it is truthy; polled, with a deadline."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(RuntimeError):  # mid-navigation, the context is gone
                value = await self.evaluate(expression)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {timeout}s: {expression}")
            await asyncio.sleep(0.05)

    async def viewport(self, width: int, height: int, *, mobile: bool) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    async def screenshot(self) -> bytes:
        """The page as a PNG."""
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(shot["data"])

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.send("Target.closeTarget", {"targetId": self.target})
        await self.socket.close()
        await self.client.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


async def open_tab(browser: Chromium) -> Tab:
    client = aiohttp.ClientSession()
    socket = await client.ws_connect(browser.devtools, max_msg_size=0)
    tab = Tab(socket, client)
    tab._reader = asyncio.create_task(tab._read())
    created = await tab.send("Target.createTarget", {"url": "about:blank"})
    tab.target = created["targetId"]
    attached = await tab.send("Target.attachToTarget", {"targetId": tab.target, "flatten": True})
    tab.session = attached["sessionId"]
    for domain in ("Page", "Network", "Log", "Runtime"):
        await tab.send(f"{domain}.enable")
    return tab
