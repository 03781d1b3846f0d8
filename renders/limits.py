"""Redis leases that hold across every worker: a per-provider concurrency limit and a per-job run lock.

Both are leases, not locks held by a connection: each entry expires unless its holder renews
it, so a worker killed with SIGKILL frees its slot (and its job) after ``ttl`` seconds without
anybody cleaning up. Expiry is computed from the Redis server's clock, so workers on machines
whose clocks disagree still agree on who holds what.

- ``Semaphore``: a sorted set per provider credential; member = holder (``job:<id>``), score =
  expiry in ms. Acquiring drops expired members, then adds the holder if fewer than ``limit``
  remain. Re-entrant: a holder that already has a slot keeps it (a redelivered task of the
  same job does not need a second slot).
- ``RunLock``: ``SET NX PX`` with a random token, so exactly one task works on a job at a time
  (a redelivered duplicate waits instead of rendering twice).
"""
from __future__ import annotations

import logging
import secrets
import threading
from functools import lru_cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ttl * 2)
    return 1
end
return 0
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""

_RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(*parts: object) -> str:
    """A key under this installation's prefix (read at call time: tests give each test its own)."""
    return ":".join([settings.REDIS_PREFIX, "renders", *map(str, parts)])


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class Semaphore:
    """At most ``limit`` holders of ``name`` at once, across every process that shares Redis."""

    def __init__(self, name: str, limit: int, ttl: float | None = None, *, prefix_key: str | None = None):
        self.name = name
        self.limit = max(1, int(limit))
        self.ttl = ttl if ttl is not None else settings.RENDER_LEASE_TTL_S
        self.redis_key = prefix_key or key("slots", name)

    def acquire(self, holder: str) -> bool:
        return bool(get_redis().eval(_ACQUIRE, 1, self.redis_key, holder, self.limit, _ms(self.ttl)))

    def renew(self, holder: str) -> bool:
        """Extend ``holder``'s lease; re-acquires it if it lapsed (False if the slots are full)."""
        return self.acquire(holder)

    def release(self, holder: str) -> None:
        get_redis().zrem(self.redis_key, holder)

    def in_use(self) -> int:
        """Unexpired leases right now."""
        return int(get_redis().eval(_COUNT, 1, self.redis_key))

    def holders(self) -> list[str]:
        return [member.decode() for member in get_redis().zrange(self.redis_key, 0, -1)]


class RunLock:
    """One task at a time on one job; expires ``ttl`` after its holder stops renewing it."""

    def __init__(self, job_id: int, ttl: float | None = None):
        self.redis_key = key("run", job_id)
        self.ttl = ttl if ttl is not None else settings.RENDER_LEASE_TTL_S
        self.token = secrets.token_hex(8)
        self.held = False

    def acquire(self) -> bool:
        self.held = bool(get_redis().set(self.redis_key, self.token, nx=True, px=_ms(self.ttl)))
        return self.held

    def renew(self) -> bool:
        return bool(get_redis().eval(_RENEW_LOCK, 1, self.redis_key, self.token, _ms(self.ttl)))

    def release(self) -> None:
        if self.held:
            get_redis().eval(_RELEASE_LOCK, 1, self.redis_key, self.token)
            self.held = False

    @staticmethod
    def is_held(job_id: int) -> bool:
        """Whether some worker holds (and keeps renewing) the lock of ``job_id``."""
        return bool(get_redis().exists(key("run", job_id)))


class LeaseKeeper:
    """Renews leases from a background thread while a render runs.

    A provider call can block for a long time (a slow download, an encoder finishing); the
    leases must outlive it as long as the process is alive, and no longer. Only Redis is
    touched here, never the database.
    """

    def __init__(self, *renewals, interval: float | None = None):
        self.renewals = renewals
        ttl = settings.RENDER_LEASE_TTL_S
        self.interval = interval if interval is not None else max(0.2, ttl / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="render-leases", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for renew in self.renewals:
                try:
                    if not renew():
                        log.warning("a render lease could not be renewed (%s)", getattr(renew, "__qualname__", renew))
                except redis.RedisError:
                    log.warning("Redis unavailable while renewing a render lease", exc_info=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def set_cancel_flag(job_id: int) -> None:
    """Tell a running task its job was canceled (it also sees the database row, more slowly)."""
    try:
        get_redis().set(key("cancel", job_id), "1", ex=24 * 3600)
    except redis.RedisError:
        log.warning("could not flag job %s as canceled in Redis; the worker will see the database", job_id)


def cancel_flag_set(job_id: int) -> bool:
    return bool(get_redis().exists(key("cancel", job_id)))
