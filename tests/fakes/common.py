"""What every fake back end shares: a real aiohttp server on 127.0.0.1 in a background
thread, a record of every request, scriptable faults, and real media bytes.

A fake is a context manager::

    with FakeReplicate() as server:
        server.add_fault("POST", "/v1/predictions", status=503, times=2, headers={"Retry-After": "3"})
        ... talk to server.base_url ...
        assert server.requests_to("POST", "/v1/predictions")[0].headers["Authorization"] == "Bearer t"

Faults are matched in order before the real handler runs: a fault with a ``status`` answers
instead of the handler (``body`` is JSON for dicts/lists, else raw bytes/text); one without
a status only delays (``delay``) and then lets the handler answer — a slow server.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)  # multipart: field → str or (filename, bytes)


@dataclass
class Fault:
    method: str
    path: str  # a regular expression matched against the whole path
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    content_type: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in (method, "*") and re.fullmatch(self.path, path) is not None

    def response(self) -> web.Response:
        body = self.body
        if isinstance(body, (dict, list)):
            return web.json_response(body, status=self.status, headers=self.headers)
        if body is None:
            body = b""
        if isinstance(body, str):
            body = body.encode()
        return web.Response(
            body=body, status=self.status, headers=self.headers, content_type=self.content_type or "text/plain"
        )


RECORD = web.RequestKey("record", RecordedRequest)


class FakeServer:
    """A real HTTP server in its own thread and event loop; subclasses add routes."""

    #: additional ports serving the same app (e.g. a separate "CDN" origin for result files)
    extra_ports = 0

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.port = 0
        self.ports: list[int] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    # ---- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_on(self, index: int) -> str:
        """Base URL of extra port ``index`` (0 = the main port)."""
        return f"http://127.0.0.1:{self.ports[index]}"

    def start(self) -> "FakeServer":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._start_async())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self._runner.cleanup())
            self.loop.close()

        self._thread = threading.Thread(target=run, name=f"{type(self).__name__}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _start_async(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self.setup_routes(app)
        app.on_shutdown.append(self._on_shutdown)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        for _ in range(1 + self.extra_ports):
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
            self.ports.append(self._runner.addresses[-1][1])  # the ephemeral port just bound
        self.port = self.ports[0]
        await self.on_start()

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def run(self, coro) -> Any:
        """Run a coroutine on the server's loop from the test thread; return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    # ---- hooks for subclasses
    def setup_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def on_start(self) -> None:
        pass

    async def _on_shutdown(self, app: web.Application) -> None:
        pass

    # ---- scripting and inspection
    def add_fault(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int = 1,
        content_type: str | None = None,
    ) -> Fault:
        fault = Fault(method, path, status, body, dict(headers or {}), delay, times, content_type)
        with self._lock:
            self.faults.append(fault)
        return fault

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path matches the regular expression ``path``."""
        with self._lock:
            return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
        )
        if not request.content_type.startswith("multipart/"):
            record.body = await request.read()
            if record.body:
                try:
                    record.json = json.loads(record.body)
                except ValueError:
                    record.json = None
        request[RECORD] = record
        with self._lock:
            self.requests.append(record)
            fault = next((f for f in self.faults if f.matches(request.method, request.path)), None)
            if fault is not None:
                fault.times -= 1
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return fault.response()
        return await handler(request)


async def read_multipart(request: web.Request) -> dict[str, Any]:
    """Multipart fields as str, files as (filename, bytes); also stored on the record."""
    form: dict[str, Any] = {}
    reader = await request.multipart()
    async for part in reader:
        data = await part.read()
        form[part.name] = (part.filename, bytes(data)) if part.filename else data.decode()
    request[RECORD].form = form
    return form


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") and token.strip() else None


# --------------------------------------------------------------------------- media

def color_for(*parts: Any) -> tuple[int, int, int]:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return digest[0], digest[1], digest[2]


def render_image(width: int, height: int, seed: int = 0, text: str = "") -> Image.Image:
    """A real picture, deterministic by (size, seed, text)."""
    image = Image.new("RGB", (int(width), int(height)), color_for(seed, text))
    draw = ImageDraw.Draw(image)
    accent = color_for(text, seed, "accent")
    draw.rectangle([width // 4, height // 4, max(width // 4, 3 * width // 4), max(height // 4, 3 * height // 4)], fill=accent)
    return image


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def make_png(width: int, height: int, seed: int = 0, text: str = "") -> bytes:
    return png_bytes(render_image(width, height, seed, text))


def make_mp4(frames: list[Image.Image], fps: float = 8) -> bytes:
    """A real H.264 MP4 of ``frames`` (even sizes), made by the imageio-ffmpeg binary."""
    import imageio_ffmpeg

    width, height = frames[0].size
    width, height = width - width % 2, height - height % 2
    raw = b"".join(frame.convert("RGB").resize((width, height)).tobytes() for frame in frames)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", str(out),
            ],
            input=raw,
            capture_output=True,
            check=True,
            timeout=60,
        )
        return out.read_bytes()


# --------------------------------------------------------------------------- adapter-test helpers

class ProgressLog:
    """A ``report`` callback that keeps every call, with the checks every adapter must pass."""

    def __init__(self, on_report=None) -> None:
        self.calls: list[tuple[float, str]] = []
        self._on_report = on_report

    def __call__(self, value: float, message: str) -> None:
        self.calls.append((value, message))
        if self._on_report is not None:
            self._on_report(value, message)

    @property
    def values(self) -> list[float]:
        return [value for value, _ in self.calls]

    @property
    def messages(self) -> list[str]:
        return [message for _, message in self.calls]

    def assert_complete(self) -> None:
        """Progress stays in 0..1, never goes backwards and ends at exactly 1."""
        assert self.calls, "no progress was reported"
        values = self.values
        assert all(0.0 <= v <= 1.0 for v in values), values
        assert values == sorted(values), f"progress went backwards: {values}"
        assert values[-1] == 1.0, values
        assert all(isinstance(m, str) and m for m in self.messages), self.messages


class CancelFlag:
    """``is_canceled`` for tests: ``flag.set()`` (from any thread) cancels."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.checks = 0

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        self.checks += 1
        return self._event.is_set()


def never_canceled() -> bool:
    return False
