"""Redis restarts in the middle of a stream: the client ends with every event exactly once.

A real redis-server of the test's own, a real uvicorn on it, the test process publishing as a
worker would, and a client that behaves like socket.js: on close it reconnects (with backoff)
from the last seq it saw. It does NOT de-duplicate, so a duplicate from the server would show.
"""
import threading
import time

import redis
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from projects.events import record_event
from tests.realtime.conftest import FAST
from tests.realtime.sockets import Writer, joined, open_socket
from tests.servers import session_cookie


class ReconnectingClient(threading.Thread):
    def __init__(self, server, project_id, user):
        super().__init__(daemon=True)
        self.server, self.project_id = server, project_id
        self.cookie = session_cookie(user)  # made here: the thread itself never touches the database
        self.seqs: list[int] = []
        self.sessions = 0
        self.close_codes: list[int | None] = []
        self.stopping = threading.Event()

    def run(self):
        delay = 0.1
        while not self.stopping.is_set():
            try:
                socket = open_socket(self.server, self.project_id, cookie=self.cookie,
                                     after=self.seqs[-1] if self.seqs else 0)
            except (InvalidHandshake, InvalidStatus, OSError, TimeoutError):
                time.sleep(delay)  # Redis is down: the server cannot admit us yet
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.1
            try:
                while not self.stopping.is_set():
                    try:
                        message = socket.recv(0.2)
                    except TimeoutError:
                        continue
                    if message["type"] == "session":
                        self.sessions += 1
                    if "seq" in message:
                        self.seqs.append(message["seq"])
            except ConnectionClosed as closed:
                self.close_codes.append(closed.rcvd.code if closed.rcvd else None)
            finally:
                socket.ws.close()

    def wait_for_seq(self, seq: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (not self.seqs or self.seqs[-1] < seq) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join(5)


def test_every_event_exactly_once_across_a_redis_restart(redis_server, start_studio_server, project, owner):
    server = start_studio_server(**FAST)  # on redis_server, as the test process now is
    client = ReconnectingClient(server, project.pk, owner)
    client.start()
    total = 120
    writer = Writer(lambda i: record_event(project.pk, "comment.created", owner, {"n": i}), total, pause=0.01)
    while client.sessions == 0:
        time.sleep(0.02)
    writer.start()
    while writer.done < total // 3:
        time.sleep(0.01)
    redis_server.restart(down_for=0.8)  # the writer keeps committing (and failing to publish)
    writer.finish()
    client.wait_for_seq(total, timeout=20)
    # While Redis was away the server kept the socket fed from the log; once Redis is back it
    # closes it (4503) so the page resyncs presence and unread count too. Wait for that too:
    # the reconnect, from the last seq, must not bring a duplicate.
    deadline = time.monotonic() + 10
    while client.sessions < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    client.stop()

    assert client.seqs == list(range(1, total + 1))
    assert client.sessions >= 2 and 4503 in client.close_codes, server.log()[-4000:]


def test_sockets_are_reset_when_the_layer_stops_delivering(redis_server, start_studio_server, project, owner):
    """Redis answers, but nothing published arrives (here: writes paused, which holds PUBLISH):
    after three lost pings the server closes its sockets with 4503 so clients resync."""
    server = start_studio_server(**FAST, REALTIME_PING_TIMEOUT_S="0.3")
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    client = redis.Redis.from_url(redis_server.url)
    client.client_pause(5000, all=False)  # WRITE mode: INFO answers, PUBLISH waits
    started = time.monotonic()
    assert socket.wait_closed(timeout=6) == 4503
    assert time.monotonic() - started > 3 * 0.3  # not before three pings were lost
    assert "pings stopped coming back" in server.log()  # that, not an outage, was the reason
    client.client_unpause()
    socket = open_socket(server, project.pk, user=owner, after=0)  # and it is admitted again
    joined(socket)
    socket.close()
