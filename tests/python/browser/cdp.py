"""A small Chrome DevTools Protocol client over --remote-debugging-pipe.

Chromium started with --remote-debugging-pipe reads commands from its fd 3 and
writes replies and events to its fd 4, each message one JSON object followed by
a NUL byte. Browser.start() launches it headless with those two pipes, opens one
page and attaches to it (a flat session), so that Browser.call() talks to the
page. Every wait has a deadline: a reply or event that does not come in time
raises CDPTimeout, and Browser.close() always ends the process. Standard
library only; one thread (select() on the reply pipe).
"""

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

# Environment variables that must not reach the browser: our pytest may run
# under an interpreter with the ASan runtime preloaded.
_STRIPPED_ENV = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "MSAN_OPTIONS")

BROWSER_NAMES = ("chromium", "chromium-browser")


class CDPError(RuntimeError):
    """The browser answered a command with an error, or went away."""


class CDPTimeout(CDPError):
    """A reply or event did not come before its deadline."""


def find_chromium():
    """The path of a chromium executable on PATH, or None."""
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_env():
    """os.environ without the sanitizer settings and preloads."""
    return {key: value for key, value in os.environ.items() if key not in _STRIPPED_ENV}


class Browser:
    """One headless chromium with one page, driven over the debugging pipe.

    Use as a context manager; `events` holds every event received so far, as
    (method, params) pairs, for the caller to check for console errors.
    """

    def __init__(self, executable, width=1280, height=900, timeout=30.0):
        self.executable = executable
        self.width, self.height = width, height
        self.timeout = timeout
        self.events = []
        self.process = None
        self.session_id = None
        self._profile = None
        self._to_browser = self._from_browser = None
        self._buffer = b""
        self._replies = {}
        self._next_id = 0

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ raises
            raise
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- Process ------------------------------------------------------------

    def start(self):
        """Launch the browser and attach to a new blank page. Returns self."""
        self._profile = tempfile.mkdtemp(prefix="heaplens-chromium-")
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()

        def wire_pipes():
            # In the child, before exec: the pipes become fds 3 and 4. They are
            # first copied above 9 (close-on-exec) since either may already be 3
            # or 4, and dup2() onto itself would leave it close-on-exec.
            high_read = fcntl.fcntl(command_read, fcntl.F_DUPFD_CLOEXEC, 10)
            high_write = fcntl.fcntl(reply_write, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        args = [
            self.executable,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            f"--window-size={self.width},{self.height}",
            f"--user-data-dir={self._profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=browser_env(),
                close_fds=False,  # keeps fds 3 and 4 made by wire_pipes()
                preexec_fn=wire_pipes,
                start_new_session=True,
            )
        finally:
            os.close(command_read)
            os.close(reply_write)
        self._to_browser, self._from_browser = command_write, reply_read
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.call(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session_id = attached["sessionId"]
        return self

    def close(self):
        """End the browser (politely, then by force) and remove its profile."""
        if self.process is not None and self.process.poll() is None:
            try:
                self._send("Browser.close", {}, None)
                self.process.wait(timeout=5)
            except (OSError, CDPError, subprocess.TimeoutExpired):
                pass
            if self.process.poll() is None:
                try:  # the browser and its helpers: it leads its own session
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            if fd is not None:
                os.close(fd)
        self._to_browser = self._from_browser = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    # -- Messages -----------------------------------------------------------

    def _send(self, method, params, session_id):
        """Write one command; returns its id."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session_id:
            message["sessionId"] = session_id
        data = json.dumps(message).encode("utf-8") + b"\0"
        while data:
            written = os.write(self._to_browser, data)
            data = data[written:]
        return self._next_id

    def _read_one(self, deadline):
        """Read until one whole message is buffered and store it: replies by
        id, events in self.events. Raises CDPTimeout past `deadline`, CDPError
        when the browser closed the pipe."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPTimeout("no message from the browser in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise CDPError(f"the browser closed the pipe (exit code {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "id" in message:
            self._replies[message["id"]] = message
        else:
            self.events.append((message.get("method"), message.get("params", {})))

    def call(self, method, params=None, timeout=None, session=True):
        """Send a command (to the page unless session=False) and return its
        result dict. Raises CDPError on an error reply, CDPTimeout when none comes."""
        session_id = self.session_id if session else None
        command_id = self._send(method, params or {}, session_id)
        deadline = time.monotonic() + (timeout or self.timeout)
        while command_id not in self._replies:
            self._read_one(deadline)
        reply = self._replies.pop(command_id)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')} {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method, timeout=None, start=0):
        """The params of the first event `method` at index >= start of
        self.events, reading more until it comes. Raises CDPTimeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        index = start
        while True:
            while index < len(self.events):
                name, params = self.events[index]
                index += 1
                if name == method:
                    return params
            self._read_one(deadline)

    def drain(self, seconds):
        """Read whatever arrives during `seconds` (late console messages)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._read_one(deadline)
        except CDPTimeout:
            pass

    # -- Page helpers -------------------------------------------------------

    def evaluate(self, expression, timeout=None):
        """The value of a JavaScript expression in the page (JSON-able values).
        Raises CDPError when it throws."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"evaluating {expression[:80]!r} threw: {text}")
        return result["result"].get("value")

    def open(self, url, ready_expression="document.readyState === 'complete'", timeout=None):
        """Enable the domains whose events we check, navigate to `url`, wait
        for the load event, then until `ready_expression` is true."""
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        start = len(self.events)
        navigation = self.call("Page.navigate", {"url": url})
        if navigation.get("errorText"):
            raise CDPError(f"navigating to {url}: {navigation['errorText']}")
        self.wait_event("Page.loadEventFired", timeout=timeout, start=start)
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.evaluate(ready_expression):
            if time.monotonic() > deadline:
                raise CDPTimeout(f"the page never became ready ({ready_expression})")
            time.sleep(0.05)

    def click(self, x, y):
        """A real left click at viewport coordinates (x, y)."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            if kind == "mouseMoved":
                params = {"type": kind, "x": x, "y": y}
            self.call("Input.dispatchMouseEvent", params)

    def screenshot(self, path):
        """Save a PNG of the whole page (beyond the viewport) to `path`."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            timeout=60,
        )
        with open(path, "wb") as file:
            file.write(base64.b64decode(shot["data"]))

    def problems(self, start=0):
        """The console errors and warnings, uncaught exceptions, and error and
        warning log entries among self.events[start:], as readable strings."""
        found = []
        for method, params in self.events[start:]:
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text")
                found.append(f"uncaught exception: {text}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                args = " ".join(
                    str(arg.get("value", arg.get("description", ""))) for arg in params["args"]
                )
                found.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params["entry"].get("level") in (
                "error",
                "warning",
            ):
                entry = params["entry"]
                found.append(f"log {entry['level']} ({entry.get('source')}): {entry.get('text')}")
        return found
