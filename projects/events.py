"""The one event path: write the Event row in the change's transaction, publish after commit.

A client that missed a message catches up from the table by ``seq``; progress ticks and
presence are the only messages published without a row (``publish_ephemeral``).

Messages are serialised to JSON once, here; consumers forward ``text`` untouched. What goes
on the channel layer (``type`` names the consumer handler):

- ``studio.event``    a stored event: ``seq`` and ``event`` (its type) ride beside ``text`` so
                      a consumer can order and de-duplicate without parsing the JSON;
- ``studio.progress`` a render progress tick: ``job`` and ``data``; each consumer coalesces
                      them into a digest of at most ~4 messages a second (DESIGN.md);
- ``studio.presence`` a presence snapshot with its ``version`` (renders/presence.py): each
                      consumer sends only the latest, at most ~2 a second;
- ``studio.message``  anything else (notifications, ...): forwarded as is.

Publishing is best effort by design: the row is committed before anything is published, and
the sockets reconcile their last ``seq`` with the table, so a message lost while Redis is
away is delivered from the database instead.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from .models import Event, Project

log = logging.getLogger(__name__)


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def actor_summary(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": user.get_full_name() or user.username}


def event_message(event: Event) -> dict:
    """The wire form of an event, as sockets and ``GET .../events/`` both send it."""
    return {
        "seq": event.seq,
        "type": event.type,
        "project": event.project_id,
        "at": event.created_at.isoformat(),
        "actor": actor_summary(event.actor) if event.actor_id else None,
        "data": event.data,
    }


def ephemeral_message(project_id: int, type: str, data: dict, actor=None) -> dict:
    """The wire form of a message with no ``seq`` (progress digests, presence, session)."""
    return {
        "type": type,
        "project": project_id,
        "at": timezone.now().isoformat(),
        "actor": actor_summary(actor),
        "data": data,
    }


def to_json(payload) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def record_event(project: Project | int, type: str, actor=None, data: dict | None = None) -> Event:
    """Append an event with the project's next ``seq`` and publish it once committed.

    The counter row stays locked until the surrounding transaction ends, so concurrent
    writers get consecutive numbers, commit in ``seq`` order, and a rolled-back change
    leaves no gap. (Publishing happens after commit, so messages may still reach a socket
    out of order; the consumer fills such a gap from the table.)
    """
    project_id = project.pk if isinstance(project, Project) else project
    payload = json.loads(to_json(data or {}))
    with transaction.atomic():
        Project.objects.filter(pk=project_id).update(last_event_seq=F("last_event_seq") + 1)
        seq = Project.objects.filter(pk=project_id).values_list("last_event_seq", flat=True).get()
        event = Event.objects.create(project_id=project_id, seq=seq, type=type, actor=actor, data=payload)
    transaction.on_commit(lambda: publish_event(event), robust=True)
    return event


def publish_event(event: Event) -> None:
    _group_send(project_group(event.project_id), {
        "type": "studio.event",
        "seq": event.seq,
        "event": event.type,
        "text": to_json(event_message(event)),
    })


def publish_ephemeral(project_id: int, type: str, data: dict, actor=None) -> None:
    """A message with no ``seq``: progress ticks and presence, never stored.

    ``render.progress`` ticks must carry the job id in ``data["job"]``; sockets keep the
    latest tick per job and send a digest ``{"jobs": [data, ...]}`` at most ~4 times a second.
    """
    if type == "render.progress" and data.get("job") is not None:
        _group_send(project_group(project_id), {
            "type": "studio.progress",
            "job": data["job"],
            "data": json.loads(to_json(data)),  # plain JSON types, as the layer's msgpack needs
        })
        return
    _group_send(project_group(project_id), {
        "type": "studio.message",
        "text": to_json(ephemeral_message(project_id, type, data, actor)),
    })


def publish_to_user(user_id: int, type: str, data: dict) -> None:
    """A message for every open socket of one user, whatever project page it is on."""
    _group_send(user_group(user_id), {
        "type": "studio.message",
        "text": to_json({"type": type, "at": timezone.now().isoformat(), "data": data}),
    })


# --- publishing from sync code ------------------------------------------------------------


class _Publisher:
    """One event loop thread per process that sync code (web views, Celery tasks) publishes through.

    ``async_to_sync(layer.group_send)`` starts a new event loop for every call, and with it a
    new Redis connection pool (channels-redis keeps one per loop). This thread keeps one loop,
    so the layer keeps one connection, which redis-py re-opens by itself after a Redis restart.

    A publish waits at most ``PUBLISH_TIMEOUT_S``; after a failure, publishing is skipped for
    ``PUBLISH_RETRY_AFTER_S`` so a Redis outage costs a request or a task one timeout, not
    one per event (the rows are committed; the sockets deliver them from the table).
    """

    def __init__(self):
        self.reset()
        # A forked child (Celery's prefork pool) inherits this object but not its thread, and
        # maybe a lock held by a thread that does not exist there: start afresh.
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer = None
        self._down_until = 0.0

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="studio-publisher", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    async def _send(self, layer, group: str, message: dict) -> None:
        if layer is not self._layer:
            # The layer was replaced (settings changed, as tests do): close the old connection.
            previous, self._layer = self._layer, layer
            if previous is not None:
                try:
                    await previous.flush()
                except Exception:  # noqa: BLE001 - it may be the broken one
                    pass
        try:
            await layer.group_send(group, message)
        except RedisConnectionError:
            # The pooled connection died with a Redis restart; the retry opens a new one.
            await layer.group_send(group, message)

    def send(self, group: str, message: dict, wait: bool = True) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        if time.monotonic() < self._down_until:
            log.debug("channel layer marked down; not publishing to %s", group)
            return
        future = asyncio.run_coroutine_threadsafe(self._send(layer, group, message), self._ensure_loop())
        if not wait:
            future.add_done_callback(lambda done: self._check(group, done))
            return
        try:
            future.result(float(getattr(settings, "PUBLISH_TIMEOUT_S", 2.0)))
        except Exception as exc:  # noqa: BLE001 - Redis may be away; the DB has the event
            future.cancel()
            self._failed(group, exc)
        else:
            self._down_until = 0.0

    def _check(self, group: str, future) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._failed(group, future.exception())

    def _failed(self, group: str, exc: BaseException) -> None:
        self._down_until = time.monotonic() + float(getattr(settings, "PUBLISH_RETRY_AFTER_S", 1.0))
        reason = "timed out" if isinstance(exc, FutureTimeout) else f"{type(exc).__name__}: {exc}"
        log.warning("could not publish to %s (%s); sockets will deliver it from the event log", group, reason)


_publisher = _Publisher()


def _group_send(group: str, message: dict) -> None:
    """Publish ``message`` (already serialised once) to ``group`` through the process's
    publisher thread. Sync callers wait for it (bounded); a caller on a thread that runs an
    event loop (a consumer, an async view) does not, so its loop never blocks."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _publisher.send(group, message)
    else:
        _publisher.send(group, message, wait=False)
