"""Per process: keep the project sockets honest when the channel layer loses messages.

See ``LiveLink``. The sockets are renders.consumers.ProjectConsumer; this module only calls
their ``last_seq``, ``project_id``, ``closing``, ``resync()``, ``reset()`` and ``project_gone()``.
"""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from projects.models import Project

from . import presence
from .presence import realtime_setting

if TYPE_CHECKING:
    from .consumers import ProjectConsumer

log = logging.getLogger(__name__)

#: Pings lost in a row (Redis answering meanwhile) before the sockets are reset.
PING_MISSES_BEFORE_RESET = 3


@database_sync_to_async
def last_event_seqs(project_ids) -> dict[int, int]:
    return dict(Project.objects.filter(pk__in=list(project_ids)).values_list("pk", "last_event_seq"))


class LiveLink:
    """Keeps this process's sockets honest when the channel layer loses messages.

    Every ``REALTIME_CHECK_S`` (2 s) it

    - reads the last ``seq`` of the projects its sockets watch (one query for all) and tops
      up from the table any socket still behind what the previous check read. So an event
      whose publish was lost reaches its sockets within two checks, and while Redis is down
      the open sockets keep receiving events, from the table;
    - checks that the layer delivers: Redis answers with the same ``run_id`` (a restart loses
      every message in flight and every presence entry) and a ping published to its own
      channel comes back. When Redis is back after an outage, has restarted, or answers but
      three pings in a row never arrive (a dead subscription), every socket of this process is
      closed with 4503: each client reconnects and resyncs (events from its last seq,
      presence, unread count). Sockets are not closed while Redis is still down, so clients
      do not spin on refused reconnects, and channels-redis can unsubscribe them cleanly.

    channels-redis 4.3 does re-subscribe by itself after a Redis restart (checked), but what
    was published before it did is gone; this covers that window and any future regression.
    """

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def current(cls) -> "LiveLink":
        loop = asyncio.get_running_loop()
        link = cls._by_loop.get(loop)
        if link is None:
            link = cls._by_loop[loop] = cls()
        return link

    def __init__(self):
        self.consumers: set[ProjectConsumer] = set()
        self.task: asyncio.Task | None = None
        self.receiver: asyncio.Task | None = None
        self.channel: str | None = None
        self.run_id: str | None = None
        self.redis_down = False
        self.misses = 0
        self.sent = self.echoed = 0
        self.echo = asyncio.Event()

    def add(self, consumer: ProjectConsumer) -> None:
        self.consumers.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())

    def discard(self, consumer: ProjectConsumer) -> None:
        self.consumers.discard(consumer)
        if not self.consumers and self.task is not None:
            self.task.cancel()
            self.task, self.run_id, self.redis_down, self.misses = None, None, False, 0

    async def run(self) -> None:
        interval = realtime_setting("REALTIME_CHECK_S", 2)
        layer = get_channel_layer()
        seen: dict[int, int] = {}
        try:
            # The Redis its first sockets subscribed on: a restart before the first check counts.
            self.run_id = await presence.server_run_id()
        except Exception:  # noqa: BLE001 - down already: the first check notes it
            pass
        try:
            while True:
                await asyncio.sleep(interval)
                seen = await self.reconcile(seen)
                if await self.must_resync(layer):
                    self.reset_sockets()
        finally:
            self.stop_receiver()

    async def must_resync(self, layer) -> bool:
        """True when the sockets may have missed live messages and Redis can take them back."""
        status = await self.redis_status()
        if status != "up":
            return status == "back"
        outcome = await self.ping(layer)
        if outcome != "lost":
            if outcome == "delivered":
                self.misses = 0
            return outcome == "back"
        # Redis answers but our own message did not come back: is the subscription dead?
        # Be patient: a loaded process delivers late, and a needless reset costs a reconnect storm.
        self.misses += 1
        self.stop_receiver()  # the next check pings on a fresh subscription
        if self.misses < PING_MISSES_BEFORE_RESET:
            log.info("channel layer ping did not come back (%s in a row)", self.misses)
            return False
        log.warning("channel layer pings stopped coming back; resyncing this process's sockets")
        self.misses = 0
        return True

    async def redis_status(self) -> str:
        """'up'; 'down'; or 'back' after an outage or a restart (messages were lost meanwhile)."""
        try:
            run_id = await presence.server_run_id()
        except Exception as exc:  # noqa: BLE001 - Redis is down
            if not self.redis_down:
                log.warning("Redis is unreachable (%s); sockets get events from the log until it is back", exc)
            self.redis_down = True
            return "down"
        restarted = self.run_id is not None and run_id != self.run_id
        self.run_id = run_id
        if self.redis_down or restarted:
            log.warning("Redis is back%s; resyncing this process's sockets", " after a restart" if restarted else "")
            self.redis_down, self.misses = False, 0
            return "back"
        return "up"

    async def ping(self, layer) -> str:
        """Publish to our own channel and wait for it: 'delivered', 'lost', or the Redis status
        ('down', 'back') if Redis went away meanwhile, which is checked between short waits so
        a restart during a ping is acted on at once."""
        timeout = realtime_setting("REALTIME_PING_TIMEOUT_S", 5)
        step = min(timeout, realtime_setting("REALTIME_CHECK_S", 2))
        try:
            if self.receiver is None or self.receiver.done():
                self.channel = await layer.new_channel("studio.livelink.")
                self.receiver = asyncio.create_task(self.receive_echoes(layer, self.channel))
            self.sent += 1
            await asyncio.wait_for(layer.send(self.channel, {"type": "ping", "n": self.sent}), step)
        except Exception as exc:  # noqa: BLE001 - Redis went away since it answered
            log.info("channel layer ping failed: %s", exc)
            status = await self.redis_status()
            return "lost" if status == "up" else status
        deadline = time.monotonic() + timeout
        while True:
            if await self.wait_for_echo(self.sent, min(step, max(0.0, deadline - time.monotonic()))):
                return "delivered"
            if time.monotonic() >= deadline:
                return "lost"
            status = await self.redis_status()
            if status != "up":
                return status

    def stop_receiver(self) -> None:
        if self.receiver is not None:
            self.receiver.cancel()
            self.receiver = None

    async def receive_echoes(self, layer, channel: str) -> None:
        try:
            while True:
                message = await layer.receive(channel)
                self.echoed = max(self.echoed, message.get("n", 0))
                self.echo.set()
        except Exception:  # noqa: BLE001 - the next check replaces this receiver
            return

    async def wait_for_echo(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.echoed < n:
            self.echo.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self.echo.wait(), remaining)
            except asyncio.TimeoutError:
                return self.echoed >= n
        return True

    def reset_sockets(self) -> None:
        for consumer in list(self.consumers):
            asyncio.create_task(consumer.reset())

    async def reconcile(self, seen: dict[int, int]) -> dict[int, int]:
        """Top up sockets behind the last seqs read at the previous check; return the new ones.
        A socket whose project is gone (deleted) is closed with 4403, like a removed member's."""
        for consumer in list(self.consumers):
            target = seen.get(consumer.project_id)
            if target is not None and consumer.last_seq < target and not consumer.closing:
                log.info("socket on project %s missed events %s..%s; sending them from the log",
                         consumer.project_id, consumer.last_seq + 1, target)
                asyncio.create_task(consumer.resync())
        watched = {consumer.project_id for consumer in self.consumers}
        try:
            latest = await last_event_seqs(watched)
        except Exception as exc:  # noqa: BLE001 - the database may be restarting too
            log.warning("could not read last event seqs: %s", exc)
            return {}
        for consumer in list(self.consumers):
            # (A socket that joined during the query is judged at the next check.)
            if consumer.project_id in watched and consumer.project_id not in latest:
                asyncio.create_task(consumer.project_gone())
        return latest
