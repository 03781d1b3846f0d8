"""Shared set-up for the render pipeline tests: a small shot ready to render, and real Celery
worker processes pointed at the test database and Redis."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection

from projects.models import Role
from tests.factories import PresetFactory, RevisionFactory, ShotFactory, member

BASE_DIR = Path(__file__).resolve().parents[2]
POEM = "孤舟蓑笠翁，独钓寒江雪"


def small_shot(project, *, width=160, height=90, fps=12, duration=Decimal("1"), prompt=POEM, preset=True,
               code=None):
    """A shot with one revision (and a style preset) in a project with a small frame, so renders are quick."""
    project.width, project.height, project.fps = width, height, fps
    project.save(update_fields=["width", "height", "fps"])
    fields = {"project": project, "duration_s": duration}
    if code:
        fields["code"] = code
    shot = ShotFactory(**fields)
    revision = RevisionFactory(shot=shot, number=1, prompt=prompt, negative_prompt="text, watermark")
    if preset:
        revision.presets.add(PresetFactory(project=project, name="Ink", prompt="guofeng ink wash",
                                           negative_prompt="photo"))
    return shot


def artist_of(project):
    return member(project, Role.ARTIST)


def wait_for(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")


def test_database_url() -> str:
    """The URL of the database this test runs on, for a worker process to use."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db.get("USER") or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{connection.settings_dict['NAME']}"


class Workers:
    """Real ``celery -A studio worker`` processes, each in its own process group (killable at once)."""

    def __init__(self, tmp_path: Path, queue: str, **env):
        self.tmp_path = tmp_path
        self.queue = queue
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            # The broker key prefix must be the one this process sends with (fixed at settings load).
            "REDIS_PREFIX": broker_prefix(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "RENDER_QUEUE": queue,
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    @property
    def redis_prefix(self) -> str:
        return self.env["REDIS_PREFIX"]

    def start(self, name: str, concurrency: int = 1, **env) -> subprocess.Popen:
        log = self.tmp_path / f"worker-{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", self.queue, "-c", str(concurrency),
             "--pool", "prefork", "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env={**self.env, **{key: str(value) for key, value in env.items()}},
            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append((process, log))
        return process

    def wait_ready(self, process: subprocess.Popen, timeout: float = 60) -> None:
        log = next(path for proc, path in self.processes if proc is process)
        wait_for(lambda: process.poll() is not None or b"ready." in log.read_bytes(), timeout, 0.2,
                 f"worker {process.pid} to be ready")
        assert process.poll() is None, self.logs()

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the whole worker (main process and its pool children): no clean-up, no ack."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process, _ in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(process)
        self.purge()

    def purge(self) -> None:
        purge_queue(self.redis_prefix, self.queue)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}" for _, path in self.processes)


def purge_queue(prefix: str, queue: str) -> None:
    """Drop a test's broker queue and its bindings (leftover retries must not outlive the test)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:celery:*{queue}*", count=1000))
    if keys:
        client.delete(*keys)


def broker_prefix() -> str:
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"].rsplit(":celery:", 1)[0]
