"""One WebSocket per open project page: catch-up from the event log, then live events.

``/ws/projects/<id>/?after=SEQ`` (DESIGN.md "Real-time"). The life of a socket:

1. **Admission.** The user (session cookie or token, renders/auth.py) must be a member: one
   query, before ``accept``. Anyone else, or a project that does not exist, is refused at the
   handshake, without a single message.
2. **Catch-up without loss.** The consumer joins its groups *before* it reads the table, so
   whatever is published meanwhile waits in its channel-layer queue (Channels dispatches one
   message at a time). It sends a ``session`` message, then every stored event after SEQ in
   order, then the queued live ones, dropping any ``seq`` already sent.
3. **Live events** go out in ``seq`` order: a duplicate is dropped, a jump (two workers
   publishing out of commit order, a message lost in a Redis blip) is filled from the table
   first. ``seq`` N+1 is only handed out once N has committed, so the table always has it.
4. **Progress** ticks are coalesced per job into a digest sent at most
   ``PROGRESS_DIGESTS_PER_S`` (4) times a second: ``{"type": "render.progress",
   "data": {"jobs": [...]}}``, without ``seq``.
5. **Presence** (renders/presence.py): joined after the catch-up, updated by the client's
   ``{"type": "presence", "shot": id|null}`` and ``{"type": "heartbeat"}``, left on
   disconnect; the full list is broadcast to the project whenever it changes, and each
   socket sends the latest list at most ``PRESENCE_UPDATES_PER_S`` (2) times a second.
6. **Removal.** The consumer's own user's ``member.removed`` closes it with 4403 (and so
   does the project's deletion, noticed by ``LiveLink``).
7. **Redis.** Per process, ``LiveLink`` compares every socket's last ``seq`` with the table
   and tops up, in place, a socket that missed an event (so events keep flowing, from the
   table, while Redis is down). Once Redis is back from an outage or a restart, or if the
   layer stops delivering its own pings, it closes its sockets with 4503 so clients
   reconnect and resync (events from their last seq, presence, unread count).

Close codes: 4403 no longer a member (do not reconnect); 4503 resync (reconnect at once).
Settings (renders/presence.py ``realtime_setting``): ``REALTIME_CHECK_S`` (2),
``REALTIME_PING_TIMEOUT_S`` (5), ``PROGRESS_DIGESTS_PER_S`` (4), ``PRESENCE_UPDATES_PER_S`` (2),
``PRESENCE_TTL_S`` (45), ``PRESENCE_HEARTBEAT_S`` (TTL / 3).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from redis.exceptions import ConnectionError as RedisConnectionError

from projects.events import actor_summary, ephemeral_message, event_message, project_group, to_json, user_group
from projects.models import Event, Membership, Notification, Shot

from . import presence
from .livelink import LiveLink
from .presence import realtime_setting

log = logging.getLogger(__name__)

CLOSE_REVOKED = 4403
CLOSE_RESYNC = 4503

#: Stored events read from the table per query while catching up.
CATCH_UP_PAGE = 500
#: Client messages accepted per window; the rest are ignored (a page sends one every few seconds).
CLIENT_MESSAGES_PER_WINDOW, CLIENT_WINDOW_S = 40, 10.0
CLIENT_MESSAGE_MAX_CHARS = 2048


# --- database work (never on the event loop) ------------------------------------------------


@database_sync_to_async
def open_session(user, project_id: int) -> dict | None:
    """The membership check and what the ``session`` message needs, or None for a non-member."""
    membership = Membership.objects.filter(project_id=project_id, user=user).select_related("project").first()
    if membership is None:
        return None
    return {
        "role": membership.role,
        "last_seq": membership.project.last_event_seq,
        "unread": Notification.objects.for_user_id(user.pk).unread().count(),
    }


@database_sync_to_async
def stored_events(project_id: int, after: int, before: int | None = None, limit: int = CATCH_UP_PAGE) -> list[tuple]:
    """``(seq, type, text, data)`` of the events after ``after`` (and before ``before``), in order."""
    events = Event.objects.filter(project_id=project_id, seq__gt=after)
    if before is not None:
        events = events.filter(seq__lt=before)
    return [
        (event.seq, event.type, to_json(event_message(event)), event.data)
        for event in events.select_related("actor").order_by("seq")[:limit]
    ]


@database_sync_to_async
def shot_in_project(shot_id: int, project_id: int) -> bool:
    return Shot.objects.filter(pk=shot_id, project_id=project_id).exists()


def parse_after(scope) -> int:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    try:
        return max(0, int(query.get("after", ["0"])[0] or 0))
    except ValueError:
        return 0


def event_data(text: str, data: dict | None) -> dict:
    if data is not None:
        return data
    try:
        return json.loads(text).get("data") or {}
    except (ValueError, AttributeError):
        return {}


# --- the consumer ---------------------------------------------------------------------------------


class ProjectConsumer(AsyncWebsocketConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.project_id: int = 0
        self.user = None
        self.last_seq = 0
        self.groups_joined: list[str] = []
        self.presence: presence.Presence | None = None
        self.closing = False
        self.deliver_lock = asyncio.Lock()  # catch-up, live delivery and resync never interleave
        self.send_lock = asyncio.Lock()
        self.progress: dict = {}  # job id -> latest tick, until the next digest
        self.progress_task: asyncio.Task | None = None
        self.last_digest = 0.0
        self.presence_text: str | None = None  # the latest presence snapshot, until sent
        self.presence_version = 0
        self.presence_task: asyncio.Task | None = None
        self.last_presence_sent = 0.0
        self.client_window: list[float] = []
        self.link: LiveLink | None = None

    async def dispatch(self, message):
        """Channels 4.3 hops through the sync thread (``aclose_old_connections``) before every
        handler, which bench/event_fanout.py measured as the main fan-out cost. This consumer
        touches the ORM only through ``database_sync_to_async``, which closes old connections
        around each call itself, so the hop is skipped."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def __call__(self, scope, receive, send):
        """Channels opens the consumer's channel before any handler runs; while Redis is away
        that raises. Refuse such a handshake with one log line instead of a 500 and a
        traceback; the client retries with backoff. (A 503 through the ``websocket.http.response``
        extension would say more, but uvicorn 0.54 then logs a spurious error per refusal.)"""
        try:
            await super().__call__(scope, receive, send)
        except Exception as exc:
            if hasattr(self, "base_send"):  # it failed later, inside a handler: a real error
                raise
            log.warning("socket refused: channel layer unavailable (%s)", exc)
            await send({"type": "websocket.close", "code": 1013})

    # --- admission and catch-up ----------------------------------------------------------------

    async def connect(self):
        self.project_id = self.scope["url_route"]["kwargs"]["project_id"]
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close()  # before accept: the handshake is refused, nothing is sent
            return
        session = await open_session(self.user, self.project_id)
        if session is None:
            await self.close()
            return
        # A client that remembers a seq beyond the log (a reset database) starts over from it.
        self.last_seq = min(parse_after(self.scope), session["last_seq"])
        try:
            for group in (project_group(self.project_id), user_group(self.user.pk)):
                await self.channel_layer.group_add(group, self.channel_name)
                self.groups_joined.append(group)
        except Exception as exc:  # noqa: BLE001 - Redis is away: tell the member to come back
            log.warning("socket for project %s could not join its groups: %s", self.project_id, exc)
            await self.accept()
            await self.drop(CLOSE_RESYNC)
            return
        await self.accept()
        self.link = LiveLink.current()
        self.link.add(self)
        await self.send_text(to_json(ephemeral_message(self.project_id, "session", {
            "user": actor_summary(self.user),
            "role": session["role"],
            "after": self.last_seq,
            "last_seq": session["last_seq"],
            "unread": session["unread"],
            "heartbeat_s": presence.heartbeat_interval(),
            "presence_ttl_s": presence.presence_ttl(),
        })))
        async with self.deliver_lock:
            await self.catch_up()
        if not self.closing:
            self.presence = presence.Presence(self.project_id, self.channel_name, self.user)
            await self.update_presence(self.presence.join)

    async def catch_up(self, before: int | None = None) -> None:
        """Send every stored event after ``last_seq`` (and before ``before``), in pages."""
        while not self.closing:
            rows = await stored_events(self.project_id, self.last_seq, before)
            for seq, type, text, data in rows:
                await self.emit(seq, type, text, data)
                if self.closing:
                    return
            if len(rows) < CATCH_UP_PAGE:
                return

    async def resync(self) -> None:
        """Top up from the table (LiveLink found this socket behind it)."""
        async with self.deliver_lock:
            await self.catch_up()

    async def reset(self) -> None:
        """LiveLink: live messages were lost; the client reconnects and resyncs everything."""
        await self.drop(CLOSE_RESYNC)

    async def project_gone(self) -> None:
        """LiveLink: the project was deleted."""
        await self.drop(CLOSE_REVOKED)

    async def emit(self, seq: int, type: str, text: str, data: dict | None = None) -> None:
        """Send one stored event, the next in order; the caller holds ``deliver_lock``."""
        if not await self.send_text(text):
            return
        self.last_seq = seq
        if type == "member.removed" and event_data(text, data).get("user") == self.user.pk:
            await self.drop(CLOSE_REVOKED)
        elif self.progress and type.startswith("render."):
            # A job's new state supersedes its pending progress tick.
            self.progress.pop(event_data(text, data).get("job"), None)

    # --- channel-layer handlers -----------------------------------------------------------------

    async def studio_event(self, message):
        seq = message["seq"]
        async with self.deliver_lock:
            if self.closing or seq <= self.last_seq:
                return
            if seq > self.last_seq + 1:
                await self.catch_up(before=seq)
                if self.closing or seq <= self.last_seq:
                    return
            await self.emit(seq, message["event"], message["text"])

    async def studio_message(self, message):
        await self.send_text(message["text"])

    async def studio_progress(self, message):
        self.progress[message["job"]] = message["data"]
        if self.progress_task is None or self.progress_task.done():
            self.progress_task = asyncio.create_task(self.send_progress_digest())

    async def studio_presence(self, message):
        """Presence snapshots, coalesced: a burst of joins (a team opening the project at 9:00)
        would otherwise send every socket one full list per join."""
        if message["version"] < self.presence_version:
            return  # an older snapshot, from a slower process
        self.presence_version, self.presence_text = message["version"], message["text"]
        if self.presence_task is None or self.presence_task.done():
            self.presence_task = asyncio.create_task(self.send_presence())

    async def send_presence(self) -> None:
        wait = self.last_presence_sent + 1 / realtime_setting("PRESENCE_UPDATES_PER_S", 2) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        text, self.presence_text = self.presence_text, None
        self.last_presence_sent = time.monotonic()
        if text is not None:
            await self.send_text(text)

    async def send_progress_digest(self) -> None:
        interval = 1 / realtime_setting("PROGRESS_DIGESTS_PER_S", 4)
        wait = self.last_digest + interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        jobs, self.progress = list(self.progress.values()), {}
        self.last_digest = time.monotonic()
        if jobs:
            await self.send_text(to_json(ephemeral_message(self.project_id, "render.progress", {"jobs": jobs})))

    # --- presence ------------------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.presence is None or not text_data or len(text_data) > CLIENT_MESSAGE_MAX_CHARS:
            return
        if not self.within_rate():
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "heartbeat":
            await self.update_presence(self.presence.heartbeat)
        elif message.get("type") == "presence":
            shot = message.get("shot")
            if shot is not None and (
                type(shot) is not int or not await shot_in_project(shot, self.project_id)
            ):
                return  # not a shot of this project: ignored, like any malformed message
            if shot != self.presence.shot:
                await self.update_presence(lambda: self.presence.view(shot))
            else:
                await self.update_presence(self.presence.heartbeat)

    def within_rate(self) -> bool:
        now = time.monotonic()
        self.client_window = [t for t in self.client_window if now - t < CLIENT_WINDOW_S]
        if len(self.client_window) >= CLIENT_MESSAGES_PER_WINDOW:
            return False
        self.client_window.append(now)
        return True

    async def update_presence(self, write) -> None:
        """Apply a presence write; if what members see changed, broadcast the whole list."""
        try:
            change = await write()
            if change.changed:
                message = {
                    "type": "studio.presence",
                    "version": change.version,
                    "text": to_json(ephemeral_message(self.project_id, "presence", {"users": change.users})),
                }
                try:
                    await self.channel_layer.group_send(project_group(self.project_id), message)
                except RedisConnectionError:  # a pooled connection Redis dropped: once more, afresh
                    await self.channel_layer.group_send(project_group(self.project_id), message)
        except Exception as exc:  # noqa: BLE001 - presence is best effort; the next heartbeat repairs it
            log.warning("presence update for project %s failed: %s", self.project_id, exc)

    # --- leaving -----------------------------------------------------------------------------------

    async def send_text(self, text: str) -> bool:
        async with self.send_lock:
            if self.closing:
                return False
            await self.send(text_data=text)
            return True

    async def drop(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            await self.close(code)

    async def disconnect(self, code):
        self.closing = True
        if self.link is not None:
            self.link.discard(self)
        for task in (self.progress_task, self.presence_task):
            if task is not None:
                task.cancel()
        for group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001 - Redis may be away; the subscription dies with it
                pass
        if self.presence is not None:
            await self.update_presence(self.presence.leave)
