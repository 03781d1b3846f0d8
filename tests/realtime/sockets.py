"""WebSocket client helpers for the real-time tests (a real client, in the test's thread)."""
from __future__ import annotations

import json
import threading
import time

from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.servers import session_cookie


class Socket:
    """A sync WebSocket client that keeps every message it received, in order."""

    def __init__(self, ws):
        self.ws = ws
        self.messages: list[dict] = []

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 5) -> dict:
        message = json.loads(self.ws.recv(timeout=timeout))
        self.messages.append(message)
        return message

    def wait_for(self, predicate, timeout: float = 5) -> dict:
        """The first message (from now on) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message in {timeout} s; got {self.messages[-5:]}")
            message = self.recv(remaining)
            if predicate(message):
                return message

    def wait_for_type(self, type: str, timeout: float = 5) -> dict:
        return self.wait_for(lambda m: m.get("type") == type, timeout)

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.messages if "seq" in m]

    def wait_for_seq(self, seq: int, timeout: float = 10) -> list[int]:
        if not self.seqs() or self.seqs()[-1] < seq:
            self.wait_for(lambda m: m.get("seq", 0) >= seq, timeout)
        return self.seqs()

    def wait_closed(self, timeout: float = 5) -> int | None:
        """Read until the server closes; return its close code."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.recv(max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        raise TimeoutError("the server did not close the socket")

    def close(self) -> None:
        self.ws.close()


def open_socket(server, project_id, *, user=None, cookie=None, token=None, after=None, origin=None,
                header_token=None, script=False) -> Socket:
    """Connect to ``/ws/projects/<id>/`` as a browser would (session cookie, Origin) or a script would."""
    path = f"/ws/projects/{project_id}/"
    query = []
    if after is not None:
        query.append(f"after={after}")
    if token is not None:
        query.append(f"token={token}")
    headers = {}
    if user is not None:
        cookie = session_cookie(user)
    if cookie is not None:
        headers["Cookie"] = cookie
    if header_token is not None:
        headers["Authorization"] = f"Token {header_token}"
    ws = connect(
        server.ws_url + path + ("?" + "&".join(query) if query else ""),
        origin=None if script else (origin or server.url), additional_headers=headers, open_timeout=5, close_timeout=2, legacy=True,
    )
    return Socket(ws)


def joined(socket: Socket, timeout: float = 5) -> dict:
    """Wait for the ``session`` message that every admitted socket gets first."""
    message = socket.recv(timeout)
    assert message["type"] == "session", message
    return message


class Writer(threading.Thread):
    """Runs ``write(i)`` ``count`` times in a thread with its own database connection."""

    def __init__(self, write, count: int, pause: float = 0.0):
        super().__init__(daemon=True)
        self.write, self.count, self.pause = write, count, pause
        self.done = 0
        self.error: BaseException | None = None

    def run(self):
        try:
            for i in range(self.count):
                self.write(i)
                self.done += 1
                if self.pause:
                    time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test through .error
            self.error = exc
        finally:
            connection.close()

    def finish(self, timeout: float = 60) -> None:
        self.join(timeout)
        assert not self.is_alive(), "writer did not finish"
        if self.error:
            raise self.error
