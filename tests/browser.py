"""Headless Chromium driven over the DevTools protocol: open a page, let it settle, take a screenshot.

A plain ``chromium --screenshot`` shoots on a virtual clock and caught viser's panel mid-animation
and its images undecoded; over DevTools the page runs in real time and is shot when asked.
"""
from __future__ import annotations

import base64
import io
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image
from waits import until
from websockets.sync.client import connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> Optional[str]:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class Browser:
    """One headless Chromium with one page; a context manager."""

    def __init__(self, executable: str, width: int = 1280, height: int = 800) -> None:
        self._profile = tempfile.mkdtemp(prefix="view-test-chromium-")
        self._process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
             f"--window-size={width},{height}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.close()
                raise RuntimeError("headless Chromium did not start")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            page = next(t for t in json.load(answer) if t["type"] == "page")
        self._socket = connect(page["webSocketDebuggerUrl"], max_size=None)
        self._ids = itertools.count(1)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            answer = json.loads(self._socket.recv(timeout=120))
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def text(self) -> str:
        """The page's visible text (panel, labels)."""
        result = self.call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
        return str(result["result"].get("value", ""))

    def dismiss_notifications(self) -> None:
        """Close viser's toasts (it warns about software WebGL, which is all a headless browser has)."""
        self.call("Runtime.evaluate", expression=(
            "document.querySelectorAll('.mantine-Notification-closeButton, "
            "button[class*=Notification-closeButton]').forEach(b => b.click())"))

    def screenshot(self) -> np.ndarray:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))

    def settled_screenshot(self, timeout_s: float = 60.0, pause_s: float = 1.5) -> np.ndarray:
        """A screenshot once two in a row, ``pause_s`` apart, are the same (viser fades its scene in, and
        software WebGL on a busy machine draws slowly); the last one taken after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        last = self.screenshot()
        while time.monotonic() < deadline:
            time.sleep(pause_s)
            image = self.screenshot()
            if image.shape == last.shape and np.array_equal(image, last):
                return image
            last = image
        return last

    def wait_for_text(self, needle: str, timeout_s: float) -> bool:
        return until(lambda: needle in self.text(), timeout_s)


def hue_pixels(image: np.ndarray, rgb: tuple[int, int, int], hue_tolerance: float = 0.025,
               min_saturation: float = 0.25) -> int:
    """Pixels of ``rgb``'s hue, whatever the shading made of their brightness and saturation."""
    pixels = image.reshape(-1, 3).astype(float) / 255.0
    high, low = pixels.max(axis=1), pixels.min(axis=1)
    chroma = high - low
    saturation = np.divide(chroma, high, out=np.zeros_like(chroma), where=high > 0)
    hue = _hue(pixels, high, chroma)
    target = np.asarray(rgb, dtype=float)[None] / 255.0
    want = _hue(target, target.max(axis=1), target.max(axis=1) - target.min(axis=1))[0]
    distance = np.abs((hue - want + 0.5) % 1.0 - 0.5)
    return int(np.count_nonzero((distance <= hue_tolerance) & (saturation >= min_saturation)))


def _hue(pixels: np.ndarray, high: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4))
    return np.where(chroma > 0, hue / 6.0, -1.0)
