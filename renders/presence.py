"""Who has a project open and which shot each person is looking at, kept in Redis.

Several ASGI processes serve one project, so presence cannot live in a process: each open
socket owns one field of a Redis hash per project (``<prefix>:presence:<project id>``),
holding its user, the shot it views and an expiry time that every heartbeat pushes forward.
A socket that closes removes its field; one that vanishes (a crashed process, a laptop lid
shut) stops heartbeating and is swept by the next write from any other socket of the
project. Every write runs as one Lua script, so a sweep never drops an entry that its
owner refreshed a moment before, and it returns the whole list, so the caller knows
whether what members see has changed.

Settings (attribute, else environment variable, else default): ``PRESENCE_TTL_S`` (45),
``PRESENCE_HEARTBEAT_S`` (a third of the TTL).
"""
from __future__ import annotations

import asyncio
import json
import os
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone

from django.conf import settings
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def realtime_setting(name: str, default: float) -> float:
    """A number from settings, else from the environment, else ``default``."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return float(value) if value not in (None, "") else float(default)


def presence_ttl() -> float:
    return realtime_setting("PRESENCE_TTL_S", 45)


def heartbeat_interval() -> float:
    return realtime_setting("PRESENCE_HEARTBEAT_S", presence_ttl() / 3)


# KEYS[1] the project's hash; ARGV: field ('' for a sweep only), entry JSON ('' to remove the
# field), seconds the entry lives without a heartbeat, seconds the hash outlives its last write.
# Expiry times come from Redis's clock, so ASGI hosts whose clocks differ agree on them.
# Returns {previous entry of the field or '', number of expired entries swept, {entries},
# seconds, microseconds}: the clock also versions the snapshot, so snapshots written by
# different processes can be ordered by whoever receives them.
_SCRIPT = """
local key, field, value, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local previous = ''
if field ~= '' then
  previous = redis.call('HGET', key, field) or ''
  if value == '' then
    redis.call('HDEL', key, field)
  else
    local entry = cjson.decode(value)
    entry['exp'] = now + ttl
    redis.call('HSET', key, field, cjson.encode(entry))
  end
end
local swept, live = 0, {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local ok, entry = pcall(cjson.decode, all[i + 1])
  if (not ok) or tonumber(entry['exp']) == nil or tonumber(entry['exp']) < now then
    redis.call('HDEL', key, all[i])
    swept = swept + 1
  else
    live[#live + 1] = all[i + 1]
  end
end
if #live > 0 then redis.call('EXPIRE', key, ARGV[4]) end
return {previous, swept, live, clock[1], clock[2]}
"""

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis() -> tuple[aioredis.Redis, object]:
    """One client per event loop (its connections belong to that loop)."""
    loop = asyncio.get_running_loop()
    pair = _clients.get(loop)
    if pair is None or pair[2] != settings.REDIS_URL:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5,
            # After a Redis restart the pooled connection is dead; retry on a fresh one.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        pair = (client, client.register_script(_SCRIPT), settings.REDIS_URL)
        _clients[loop] = pair
    return pair[0], pair[1]


def presence_key(project_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:presence:{project_id}"


@dataclass
class Change:
    """The outcome of a presence write: the list members see, whether it changed, and its
    version (later snapshots have higher ones, whichever process wrote them)."""

    users: list[dict]
    changed: bool
    version: int = 0


def summarise(entries: list[dict]) -> list[dict]:
    """One line per person, however many tabs: the shot of the tab used last, the earliest join."""
    people: dict[int, dict] = {}
    for entry in entries:
        person = people.get(entry["user"])
        if person is None:
            people[entry["user"]] = person = {
                "id": entry["user"], "username": entry["username"], "name": entry["name"],
                "shot": entry["shot"], "since": entry["since"], "_viewed": entry["viewed"],
            }
        if entry["viewed"] > person["_viewed"]:
            person["shot"], person["_viewed"] = entry["shot"], entry["viewed"]
        person["since"] = min(person["since"], entry["since"])
    users = sorted(people.values(), key=lambda p: (p["since"], p["username"]))
    for person in users:
        del person["_viewed"]
        person["since"] = datetime.fromtimestamp(person["since"], tz=timezone.utc).isoformat()
    return users


async def _write(project_id: int, field: str = "", entry: dict | None = None) -> Change:
    _, script = _redis()
    ttl = presence_ttl()
    previous, swept, live, seconds, microseconds = await script(
        keys=[presence_key(project_id)],
        args=[field, json.dumps(entry) if entry else "", ttl, max(60, int(ttl * 4))],
    )
    entries = [json.loads(raw) for raw in live]
    old = json.loads(previous) if previous else None
    if entry is None:
        changed = old is not None or swept > 0
    else:
        changed = old is None or old.get("shot") != entry["shot"] or swept > 0
    return Change(summarise(entries), changed, int(seconds) * 1_000_000 + int(microseconds))


class Presence:
    """The presence of one socket in one project."""

    def __init__(self, project_id: int, connection_id: str, user):
        self.project_id = project_id
        self.field = connection_id
        self.user = user
        self.shot: int | None = None
        self.since = self.viewed = time.time()

    def _entry(self) -> dict:
        """The socket's field; the script adds its expiry (``exp``) from Redis's clock."""
        return {
            "user": self.user.pk,
            "username": self.user.username,
            "name": self.user.get_full_name() or self.user.username,
            "shot": self.shot,
            "since": self.since,
            "viewed": self.viewed,
        }

    async def join(self) -> Change:
        return await _write(self.project_id, self.field, self._entry())

    async def view(self, shot: int | None) -> Change:
        self.shot, self.viewed = shot, time.time()
        return await _write(self.project_id, self.field, self._entry())

    async def heartbeat(self) -> Change:
        """Push the expiry forward; re-adds the entry if Redis lost it (a restart)."""
        return await _write(self.project_id, self.field, self._entry())

    async def leave(self) -> Change:
        return await _write(self.project_id, self.field, None)


async def server_run_id() -> str:
    """The Redis server's run id: it changes when Redis restarts (and forgets everything)."""
    client, _ = _redis()
    return (await client.info("server"))["run_id"]


async def current(project_id: int) -> list[dict]:
    """Who is in the project now (sweeping the expired)."""
    return (await _write(project_id)).users
