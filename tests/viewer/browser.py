"""A real headless browser for the report tests: Debian's ``chromium`` driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``), with no driver and no third-party package.

The browser reads JSON commands from file descriptor 3 and writes replies and events to file
descriptor 4, each message ended by a NUL byte. A reader thread collects the events, so a test
sees every network request the page made (``Network.requestWillBeSent``), every uncaught
exception and every console or browser error, evaluates JavaScript in the page and takes
screenshots.

The browser cannot reach the network even if the page tried: every host name resolves to
nothing (``--host-resolver-rules``); the request would still be reported.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

#: What the tests tell a developer whose machine has no browser.
MISSING = (
    "the report tests need Debian's chromium: apt-get install -y chromium "
    "(CI installs it in .ci/run)"
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


def chromium_path() -> str | None:
    return shutil.which("chromium")


@dataclass
class PageLog:
    """What happened in the page: requests, script errors and error messages."""

    requests: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


class Chromium:
    """One headless chromium with one page, as a context manager."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1000) -> None:
        executable = chromium_path()
        assert executable is not None, MISSING
        self.width, self.height = width, height
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser wants the pipe ends as its fds 3 and 4: bash puts them there, so no
        # preexec_fn (unsafe with threads) is needed. Copies numbered 10 and up first, so that
        # moving one end to 3 cannot overwrite the other (dash takes one digit only: bash).
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
        os.close(to_browser_r)
        os.close(from_browser_w)
        script = f'exec "$0" "$@" 3<&{ends[0]} 4>&{ends[1]} {ends[0]}<&- {ends[1]}>&-'
        profile.mkdir(parents=True, exist_ok=True)
        self.stderr_path = profile / "chromium-stderr.txt"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={profile}"],
                pass_fds=tuple(ends),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        for fd in ends:
            os.close(fd)
        self._next_id = 0
        self._gone = False
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, name="chromium-reader", daemon=True)
        self._reader.start()
        self.session = self._attach()

    # -- protocol ----------------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:  # the browser is gone: wake every command still waiting
                with self._lock:
                    self._gone = True
                    for waiting in self._replies.values():
                        waiting.put({"error": "the browser closed its pipe"})
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._lock:
                    waiting = self._replies.get(message.get("id", -1))
                if waiting is not None:
                    waiting.put(message)
                else:
                    self.events.append(message)

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 60
    ) -> dict[str, Any]:
        """Send one command (to the page's session once attached); its result.

        Raises:
            AssertionError: The browser answered with an error, or not in time.
        """
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            reply: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[ident] = reply
            if self._gone:
                reply.put({"error": "the browser closed its pipe"})
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if getattr(self, "session", None):
            message["sessionId"] = self.session
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
            answer = reply.get(timeout=timeout)
        except (BrokenPipeError, queue.Empty):
            answer = {"error": f"no answer in {timeout} s"}
        if ("error" in answer and self._gone) or self.process.poll() is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            output = self.stderr_path.read_text(errors="replace")[-2000:]
            raise AssertionError(
                f"chromium stopped (exit status {self.process.poll()}) before answering "
                f"{method}; its stderr:\n{output}"
            )
        assert "error" not in answer, f"{method}: {answer['error']}"
        result: dict[str, Any] = answer.get("result", {})
        return result

    def _attach(self) -> str:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session: str = session["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self.session

    # -- page --------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        seen = len(self.events)
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events[seen:]):
            assert time.monotonic() < deadline, f"{url} did not load within 60 s"
            time.sleep(0.05)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited).

        Raises:
            AssertionError: The expression threw.
        """
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll until ``expression`` is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the page's viewport."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def log(self) -> PageLog:
        """Requests, exceptions and errors seen so far."""
        log = PageLog()
        for event in list(self.events):
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                log.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                log.exceptions.append(str(text))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                args = params.get("args", [])
                log.console_errors.append(" ".join(str(a.get("value", a)) for a in args))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                log.console_errors.append(params["entry"].get("text", ""))
        return log

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.session = ""
            self.send("Browser.close", timeout=10)
        except (AssertionError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)
        os.close(self._to_browser)
        self._reader.join(timeout=5)
        os.close(self._from_browser)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
