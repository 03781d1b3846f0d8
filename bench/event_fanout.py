"""How fast a project event reaches every open socket, and whether each socket gets it once.

Starts the real studio (uvicorn, ``studio.asgi:application``, one process, 127.0.0.1, a free
port) on a temp SQLite database and the Redis at REDIS_URL (a unique REDIS_PREFIX, so it
shares nothing with anyone), creates a project with N members, each with an API token,
opens N WebSockets (``/ws/projects/{id}/?token=``) from a second process, then records M
events with ``projects.events.record_event`` from this process — the path every real
event takes (row written, published after commit) — at one or more rates.

For every delivery it takes receive time minus the moment ``record_event`` was called
(wall clock; all processes are on this machine), and per socket it checks that every
event arrived exactly once and in ``seq`` order. Each socket behaves like an open page: it
sends the presence heartbeat the ``session`` message asks for, and when the server closes it,
it reconnects with backoff and ``?after=<last seq>``; what arrives that way still counts, late.

Baseline, measured in the same run with the same client process: Redis pub/sub fanned out
by a minimal ``websockets`` server (one process, one SUBSCRIBE, ``websockets.broadcast``),
fed the same JSON messages by PUBLISH at the same rates — what DESIGN.md "Real-time"
compares the channel layer with. The ratio of the two is the channel layer's (and the
consumer's, and the event write's) overhead.

    .venv/bin/python bench/event_fanout.py [--sockets 200] [--events 40] [--rates 5,20]

Everything listens on 127.0.0.1 only, every wait is bounded (--timeout), and every process
it started is stopped before it exits.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BASE_DIR,
    RUN_ID,
    fmt,
    machine,
    ratio,
    remove_tree,
    say,
    summary,
    table,
    throwaway_environment,
    write_json,
)

EVENT_TYPE = "bench.ping"
MAX_RECONNECTS = 5
TYPE_RE = re.compile(r'"type":"([^"]*)"')


def backoff(attempt: int) -> float:
    """Reconnect delay, as a well-behaved page does it: exponential from 0.5 s to 8 s, jittered."""
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)


# ==== role: the client process (N sockets in one event loop) ====================================


class Sock:
    """One WebSocket and what it received."""

    def __init__(self, index: int, url: str, origin: str, resume: bool):
        self.index, self.url, self.origin, self.resume = index, url, origin, resume
        self.ws = None
        self.seen: dict[int, int] = {}  # id -> times received
        self.latency: dict[int, float] = {}  # id -> seconds, first delivery
        self.arrival: dict[int, float] = {}
        self.last_id = 0
        self.out_of_order = 0
        self.other: dict[str, list[int]] = {}  # type -> [messages, bytes]
        self.server_closes: list = []  # close codes of closes the server started
        self.reconnects = 0
        self.connected = asyncio.Event()
        self.failed: str | None = None
        self.stopping = False
        self.last_rx = 0.0
        self.heartbeat_s: float | None = None  # from the studio's ``session`` message

    async def run(self, connect_sem: asyncio.Semaphore) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        attempt = 0
        while not self.stopping:
            url = self.url
            if self.resume and self.last_id:
                url = f"{url}&after={self.last_id}"
            try:
                async with connect_sem:
                    ws = await asyncio.wait_for(
                        connect(url, origin=self.origin, ping_interval=None, max_size=None, open_timeout=30,
                                close_timeout=2), 40)
            except Exception as exc:  # noqa: BLE001 - recorded; the report says how many failed
                self.failed = f"{type(exc).__name__}: {exc}"[:200]
                attempt += 1
                if attempt > MAX_RECONNECTS or not self.connected.is_set():
                    self.connected.set()
                    return
                await asyncio.sleep(backoff(attempt))
                continue
            self.ws, self.failed = ws, None
            self.connected.set()
            beats = asyncio.create_task(self.heartbeats(ws)) if self.resume else None
            try:
                async for text in ws:
                    self.handle(text)
            except ConnectionClosed:
                pass
            finally:
                if beats is not None:
                    beats.cancel()
            if self.stopping:
                return
            self.server_closes.append(ws.close_code)
            if self.stopping or self.reconnects >= MAX_RECONNECTS or ws.close_code == 4403:
                return
            self.reconnects += 1
            await asyncio.sleep(backoff(self.reconnects))

    async def heartbeats(self, ws) -> None:
        """Keep this member present, as an open page does (``{"type": "heartbeat"}``)."""
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await asyncio.sleep(self.heartbeat_s or 15)
                await ws.send('{"type":"heartbeat"}')
        except ConnectionClosed:
            return

    def handle(self, text) -> None:
        now = time.time()
        self.last_rx = time.monotonic()
        # Only the benchmark's events are parsed: presence lists can be large, and parsing
        # them here would take CPU from the server being measured.
        found = TYPE_RE.search(text, 0, 300)
        kind = found.group(1) if found else "?"
        if kind == EVENT_TYPE:
            message = json.loads(text)
        else:
            if kind == "session" and self.heartbeat_s is None:
                try:
                    self.heartbeat_s = float(json.loads(text)["data"]["heartbeat_s"])
                except (ValueError, KeyError, TypeError):
                    self.heartbeat_s = 15.0
            stats = self.other.setdefault(kind, [0, 0])
            stats[0] += 1
            stats[1] += len(text)
            return
        ident = message["seq"]
        self.seen[ident] = self.seen.get(ident, 0) + 1
        if ident not in self.latency:
            self.latency[ident] = now - message["data"]["t"]
            self.arrival[ident] = now
        if ident < self.last_id:
            self.out_of_order += 1
        self.last_id = max(self.last_id, ident)


async def read_command() -> dict:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line:
        return {"cmd": "stop"}
    return json.loads(line)


def emit(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def phase_report(socks: list[Sock], ids: list[int], sent_at: dict[int, float]) -> dict:
    ids_set = set(ids)
    latencies, missing, dupes, arrivals = [], 0, 0, []
    complete = 0
    for sock in socks:
        got = 0
        for ident in ids:
            count = sock.seen.get(ident, 0)
            if count == 0:
                missing += 1
                continue
            got += 1
            dupes += count - 1
            latencies.append(sock.latency[ident])
            arrivals.append(sock.arrival[ident])
        complete += got == len(ids_set)
    first_sent = min(sent_at.values()) if sent_at else 0
    span = (max(arrivals) - first_sent) if arrivals else 0
    return {
        "expected": len(ids) * len(socks),
        "delivered": len(latencies),
        "missing": missing,
        "duplicates": dupes,
        "sockets_complete": complete,
        "latency": summary(latencies),
        "deliveries_per_s": len(latencies) / span if span > 0 else 0.0,
    }


def other_totals(socks: list[Sock]) -> dict[str, list[int]]:
    """Messages other than the benchmark's events, by type: [count, bytes]."""
    other: dict[str, list[int]] = {}
    for sock in socks:
        for kind, (n, size) in sock.other.items():
            entry = other.setdefault(kind, [0, 0])
            entry[0] += n
            entry[1] += size
    return other


async def client_main() -> None:
    spec = await read_command()
    deadline = time.monotonic() + spec["timeout_s"]
    socks = [Sock(i, url, spec["origin"], spec["resume"]) for i, url in enumerate(spec["urls"])]
    sem = asyncio.Semaphore(spec.get("concurrency", 25))
    started, started_mono = time.perf_counter(), time.monotonic()
    tasks = [asyncio.create_task(sock.run(sem)) for sock in socks]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in socks)), max(1, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        pass
    connect_s = time.perf_counter() - started
    live = [s for s in socks if s.ws is not None and s.failed is None]
    emit({"ready": len(live), "failed": len(socks) - len(live), "connect_s": connect_s,
          "errors": sorted({s.failed for s in socks if s.failed})[:5]})
    while True:
        command = await read_command()
        if command["cmd"] == "quiet":
            # Wait out the join-time traffic (session, presence) before anything is timed.
            wait_until = min(deadline, time.monotonic() + command["max_s"])
            while time.monotonic() < wait_until:
                if time.monotonic() - max((s.last_rx for s in socks), default=0) >= command["quiet_s"]:
                    break
                await asyncio.sleep(0.05)
            last = max((s.last_rx for s in socks), default=0)
            emit({"join_traffic_s": max(0.0, last - started_mono),
                  "reconnects": sum(s.reconnects for s in live),
                  "other": other_totals(live), "quiet": time.monotonic() - last >= command["quiet_s"]})
        elif command["cmd"] == "phase":
            ids = command["ids"]
            sent_at = {int(k): v for k, v in command["sent_at"].items()}
            wait_until = time.monotonic() + command["drain_s"]
            while time.monotonic() < wait_until:
                if all(all(i in s.seen for i in ids) for s in live):
                    break
                await asyncio.sleep(0.02)
            emit(phase_report(live, ids, sent_at))
        else:
            break
    for sock in socks:
        sock.stopping = True
    await asyncio.gather(*(s.ws.close() for s in socks if s.ws is not None), return_exceptions=True)
    for task in tasks:
        task.cancel()
    other = other_totals(live)
    closes: dict[str, int] = {}
    for sock in live:
        for code in sock.server_closes:
            closes[str(code)] = closes.get(str(code), 0) + 1
    emit({"final": True, "other": other, "out_of_order": sum(s.out_of_order for s in live),
          "reconnects": sum(s.reconnects for s in live), "server_closes": closes})


# ==== role: the baseline server (Redis pub/sub → plain websockets broadcast) ======================


async def baseline_server_main(port: int, redis_url: str, channel: str) -> None:
    import websockets
    from redis import asyncio as aioredis
    from websockets.asyncio.server import serve

    clients: set = set()

    async def handler(ws):
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    async with serve(handler, "127.0.0.1", port, ping_interval=None, max_size=2**20):
        async for message in pubsub.listen():
            if message["type"] == "message":
                websockets.broadcast(clients, message["data"].decode())


# ==== role: the orchestrator ====================================================================


#: What-if variants of the studio server (``--what-if``), applied by SERVER_WRAPPER before
#: uvicorn starts; the app code is untouched. They size an optimisation before anyone makes it.
WHAT_IF = {
    # Channels 4.3's AsyncConsumer.dispatch awaits aclose_old_connections() (a sync_to_async
    # thread hop) before EVERY handler, channel-layer messages included.
    "no-dispatch-close": "skip the per-message close_old_connections hop in AsyncConsumer.dispatch",
    # uvicorn negotiates permessage-deflate by default: every message is compressed once per socket.
    "no-deflate": "uvicorn without permessage-deflate",
}

#: Runs the studio server with what-if patches and/or under cProfile. uvicorn re-raises SIGTERM
#: after its graceful shutdown, which would kill ``python -m cProfile`` before it writes anything;
#: this wrapper's own handler (uvicorn restores it) writes the stats.
SERVER_WRAPPER = """
import sys
port, profile_path, flags = int(sys.argv[1]), sys.argv[2], set(filter(None, sys.argv[3].split(",")))
if "no-dispatch-close" in flags:
    import channels.consumer
    async def _no_close():
        return None
    channels.consumer.aclose_old_connections = _no_close
profile = None
if profile_path:
    import cProfile, signal
    profile = cProfile.Profile()
    def dump(*_):
        profile.disable()
        profile.dump_stats(profile_path)
        sys.exit(0)
    signal.signal(signal.SIGTERM, dump)
    profile.enable()
import uvicorn
uvicorn.run("studio.asgi:application", host="127.0.0.1", port=port, access_log=False, log_level="warning",
            ws_per_message_deflate="no-deflate" not in flags)
if profile is not None:
    dump()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(port: int, process: subprocess.Popen, timeout: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"the server exited with {process.returncode} while starting\n{tail}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer on port {port} within {timeout:.0f} s")


def wait_for_tcp(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the baseline server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the baseline server did not listen on port {port} within {timeout:.0f} s")


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """Stop a process this benchmark started (its own session, so its children go too)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def proc_figures(pid: int) -> dict:
    """Peak RSS (VmHWM) and CPU seconds so far of a running process, from /proc."""
    figures = {"peak_rss_mb": float("nan"), "cpu_s": float("nan")}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                figures["peak_rss_mb"] = int(line.split()[1]) / 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        figures["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return figures


class ClientProcess:
    """The second process holding the N sockets; spoken to with JSON lines."""

    def __init__(self, spec: dict, timeout: float):
        self.timeout = timeout
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--role", "clients"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, cwd=BASE_DIR, start_new_session=True)
        self.send(spec)

    def send(self, payload: dict) -> None:
        self.process.stdin.write(json.dumps(payload) + "\n")
        self.process.stdin.flush()

    def read(self, timeout: float | None = None) -> dict:
        import select

        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    raise RuntimeError(f"the client process exited ({self.process.poll()})")
                return json.loads(line)
            if self.process.poll() is not None:
                raise RuntimeError(f"the client process exited ({self.process.returncode})")
        raise RuntimeError("the client process did not answer in time")

    def stop(self) -> dict | None:
        final = None
        if self.process.poll() is None:
            try:
                self.send({"cmd": "stop"})
                final = self.read(30)
            except (RuntimeError, OSError, ValueError):
                final = None
        stop_process(self.process, 5)
        return final


def paced(count: int, rate: float):
    """Yield 0..count-1 at ``rate`` per second (as fast as possible when rate is 0)."""
    start = time.perf_counter()
    for i in range(count):
        if rate > 0:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        yield i


def run_target(name: str, urls: list[str], origin: str, resume: bool, publish, rates: list[float], events: int,
               args, server: subprocess.Popen) -> dict:
    """Connect the sockets, publish ``events`` at every rate, collect what arrived."""
    client = ClientProcess({"urls": urls, "origin": origin, "resume": resume, "timeout_s": args.timeout,
                            "concurrency": args.connect_concurrency}, args.timeout)
    result = {"name": name, "phases": []}
    try:
        ready = client.read(args.timeout)
        result.update(connected=ready["ready"], connect_failed=ready["failed"], connect_s=ready["connect_s"],
                      connect_errors=ready["errors"])
        say(f"  {name}: {ready['ready']} sockets open in {ready['connect_s']:.1f} s"
            + (f", {ready['failed']} failed: {ready['errors']}" if ready["failed"] else ""))
        client.send({"cmd": "quiet", "quiet_s": args.settle, "max_s": args.timeout / 2})
        quiet = client.read(args.timeout)
        result.update(join_traffic_s=quiet["join_traffic_s"], join_other=quiet["other"], join_quiet=quiet["quiet"],
                      join_reconnects=quiet["reconnects"])
        join_text = ", ".join(f"{k} {v[0]} msgs / {v[1] / 1024:.0f} KiB" for k, v in sorted(quiet["other"].items()))
        say(f"  {name}: join-time traffic lasted {quiet['join_traffic_s']:.1f} s from the first handshake"
            + (f" ({join_text})" if join_text else "")
            + (f"; {quiet['reconnects']} reconnects" if quiet["reconnects"] else "")
            + ("" if quiet["quiet"] else " and had NOT stopped"))
        before = proc_figures(server.pid)
        for rate in rates:
            ids, sent_at, call_s = [], {}, []
            started = time.perf_counter()
            for i in paced(events, rate):
                t = time.time()
                ident = publish(i, t)
                call_s.append(time.time() - t)
                ids.append(ident)
                sent_at[ident] = t
            publish_s = time.perf_counter() - started
            client.send({"cmd": "phase", "ids": ids, "sent_at": sent_at, "drain_s": args.drain})
            phase = client.read(args.drain + 30)
            phase.update(rate=rate, events=events, publish_s=publish_s, publish_call=summary(call_s))
            result["phases"].append(phase)
            lat = phase["latency"]
            say(f"  {name} @ {rate_label(rate)}: {phase['delivered']}/{phase['expected']} delivered, "
                f"p50 {lat['p50'] * 1000:.1f} ms, p99 {lat['p99'] * 1000:.1f} ms")
        after = proc_figures(server.pid)
        result["server_cpu_s"] = after["cpu_s"] - before["cpu_s"]
        result["server_peak_rss_mb"] = after["peak_rss_mb"]
    finally:
        final = client.stop()
    result["final"] = final or {}
    return result


def rate_label(rate: float) -> str:
    return "burst" if rate <= 0 else f"{rate:g}/s"


def ensure_redis(var_dir: Path):
    from studio.embedded import redis_answers, start_embedded_redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    if redis_answers(url):
        return url, None
    say(f"no Redis at {url}; starting an embedded one for this run")
    return start_embedded_redis(var_dir / "redis", persist=False)


def seed(n_members: int):
    """A project, N members with tokens (one password hash for all: hashing is not measured)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from projects.models import Membership, Project, Role

    User = get_user_model()
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"{RUN_ID}-u{i}", first_name=f"Member {i}", password=password) for i in range(n_members)])
    project = Project.objects.create(name="Fan-out bench", created_by=users[0])
    Membership.objects.bulk_create(
        [Membership(project=project, user=u, role=Role.OWNER if i == 0 else Role.ARTIST) for i, u in enumerate(users)])
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    return project, users, [t.key for t in tokens]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["orchestrator", "clients", "baseline-server"], default="orchestrator",
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    parser.add_argument("--sockets", type=int, default=200, help="members, one socket each (default 200)")
    parser.add_argument("--events", type=int, default=40, help="events published per rate (default 40)")
    parser.add_argument("--rates", default="5,20",
                        help="events per second, comma-separated; 0 = as fast as possible (default 5,20)")
    parser.add_argument("--drain", type=float, default=15, help="seconds to wait for stragglers after a phase")
    parser.add_argument("--settle", type=float, default=1,
                        help="publishing starts once no socket has received anything for this long")
    parser.add_argument("--timeout", type=float, default=240, help="hard bound on every wait, seconds")
    parser.add_argument("--connect-concurrency", type=int, default=25, help="handshakes in flight at once")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--profile-server", metavar="FILE",
                        help="run the studio server under cProfile and write its stats to FILE (slows it down)")
    parser.add_argument("--what-if", metavar="VARIANTS",
                        help="also measure patched servers, comma-separated, '+' to combine: "
                             + "; ".join(f"{k} = {v}" for k, v in WHAT_IF.items()))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    if args.role == "clients":
        asyncio.run(client_main())
        return 0
    if args.role == "baseline-server":
        asyncio.run(baseline_server_main(args.port, os.environ["REDIS_URL"], args.channel))
        return 0
    return orchestrate(args)


def orchestrate(args) -> int:
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    var_dir = throwaway_environment("fanout")
    os.environ.pop("DATABASE_URL", None)  # a temp SQLite database, whatever the shell says
    redis_process = server = baseline = None
    try:
        redis_url, redis_process = ensure_redis(var_dir)
        prefix = RUN_ID
        os.environ.update(REDIS_URL=redis_url, REDIS_PREFIX=prefix, ALLOWED_HOSTS="127.0.0.1,localhost")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        project, users, tokens = seed(args.sockets)
        say(f"event_fanout: {args.sockets} sockets, {args.events} events at {', '.join(map(rate_label, rates))}; "
            f"Redis {redis_url} prefix {prefix}; SQLite in {var_dir}; {machine()}")
        results = {}

        # --- baseline: plain websockets server fed by Redis PUBLISH ------------------------------
        if not args.skip_baseline:
            import redis

            port = free_port()
            channel = f"{prefix}:baseline"
            baseline = subprocess.Popen(
                [sys.executable, __file__, "--role", "baseline-server", "--port", str(port), "--channel", channel],
                env={**os.environ}, cwd=BASE_DIR, start_new_session=True)
            wait_for_tcp(port, baseline, 30)
            publisher = redis.Redis.from_url(redis_url)
            actor = {"id": users[0].pk, "username": users[0].username, "name": users[0].get_full_name()}
            counter = iter(range(1, 10**9))

            def publish_raw(i: int, t: float) -> int:
                seq = next(counter)
                publisher.publish(channel, json.dumps({
                    "seq": seq, "type": EVENT_TYPE, "project": project.pk, "at": "", "actor": actor,
                    "data": {"t": t, "i": i}}, separators=(",", ":")))
                return seq

            urls = [f"ws://127.0.0.1:{port}/?n={i}" for i in range(args.sockets)]
            results["baseline"] = run_target("baseline (redis pub/sub + websockets)", urls, f"http://127.0.0.1:{port}",
                                             False, publish_raw, rates, args.events, args, baseline)
            publisher.close()
            stop_process(baseline)

        # --- the studio: uvicorn + Channels consumer, events through record_event ------------------
        from projects.events import record_event

        owner = users[0]

        def publish_event(i: int, t: float) -> int:
            return record_event(project.pk, EVENT_TYPE, actor=owner, data={"t": t, "i": i}).seq

        variants = [""] + [v for v in (args.what_if or "").split(",") if v]
        server_log = ""
        for variant in variants:
            port = free_port()
            log = var_dir / f"web{variant}.log"
            profile = f"{args.profile_server}{'.' + variant if variant else ''}" if args.profile_server else ""
            if variant or profile:
                command = [sys.executable, "-c", SERVER_WRAPPER, str(port), profile, variant.replace("+", ",")]
            else:  # the server exactly as `make run` and docker-compose start it
                command = [sys.executable, "-m", "uvicorn", "studio.asgi:application", "--host", "127.0.0.1",
                           "--port", str(port), "--no-access-log", "--log-level", "warning"]
            with open(log, "ab") as out:
                server = subprocess.Popen(command, env={**os.environ}, cwd=BASE_DIR, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)
            wait_for_http(port, server, 60, log)
            key = f"studio:{variant}" if variant else "studio"
            name = f"what-if: {variant}" if variant else "studio (uvicorn + Channels)"
            urls = [f"ws://127.0.0.1:{port}/ws/projects/{project.pk}/?token={key_}" for key_ in tokens]
            results[key] = run_target(name, urls, f"http://127.0.0.1:{port}", True, publish_event, rates, args.events,
                                      args, server)
            stop_process(server, 120 if profile else 10)
            if not variant:
                server_log = log.read_text(errors="replace") if log.exists() else ""
        return report(results, rates, args, server_log)
    finally:
        stop_process(baseline)
        stop_process(server)
        if redis_process is None:
            cleanup_redis_keys(os.environ.get("REDIS_URL"), RUN_ID)
        else:
            stop_process(redis_process)
        remove_tree(var_dir)


def cleanup_redis_keys(url: str | None, prefix: str) -> None:
    """Delete whatever keys this run left under its own prefix (presence hashes, layer keys)."""
    if not url:
        return
    try:
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
        client.close()
    except Exception:  # noqa: BLE001 - best effort; the keys expire anyway
        pass


def delivery_problems(studio: dict, args) -> list[str]:
    problems = []
    if studio["connect_failed"]:
        problems.append(f"{studio['connect_failed']} of {args.sockets} sockets failed to connect: "
                        f"{studio['connect_errors']}")
    for phase in studio["phases"]:
        if phase["missing"] or phase["duplicates"]:
            problems.append(f"at {rate_label(phase['rate'])}: {phase['missing']} deliveries still missing "
                            f"{args.drain:g} s after the last publish, "
                            f"{phase['duplicates']} duplicated ({phase['sockets_complete']}/{studio['connected']} "
                            "sockets got every event exactly once)")
    if not studio.get("join_quiet", True):
        problems.append("join-time traffic had not stopped when publishing began")
    final = studio["final"]
    if final.get("reconnects"):
        problems.append(f"the server closed sockets {final['reconnects']} times (close codes "
                        f"{final.get('server_closes')}; {studio.get('join_reconnects', 0)} of them before the "
                        "timed phases); they reconnected with ?after= and backoff")
    if final.get("out_of_order"):
        problems.append(f"{final['out_of_order']} events arrived out of seq order")
    return problems


def report(results: dict, rates: list[float], args, server_log: str) -> int:
    rows = []
    for key in results:
        r = results[key]
        for phase in r["phases"]:
            lat = phase["latency"]
            rows.append([r["name"] if phase is r["phases"][0] else "", rate_label(phase["rate"]),
                         phase["rate"] * r["connected"] if phase["rate"] else "max",
                         f"{phase['delivered']}/{phase['expected']}", phase["missing"], phase["duplicates"],
                         lat["p50"] * 1000, lat["p95"] * 1000, lat["p99"] * 1000, lat["max"] * 1000,
                         phase["deliveries_per_s"], phase["publish_call"]["p50"] * 1000])
    say()
    say(table(["path", "events", "deliveries/s asked", "delivered", "missing", "dupes", "p50 ms", "p95 ms", "p99 ms",
               "max ms", "deliveries/s got", "publish call ms"], rows,
              title=f"Event fan-out to {args.sockets} sockets ({args.events} events per rate)"))
    say()
    rows = []
    for key in results:
        r, final = results[key], results[key]["final"]
        delivered = sum(p["delivered"] for p in r["phases"]) or 1
        join = r.get("join_other", {})
        join_text = ", ".join(f"{k} {v[0]} ({v[1] / 1024:.0f} KiB)" for k, v in sorted(join.items())) or "-"
        total = final.get("reconnects", 0)
        joined = r.get("join_reconnects", 0)
        rows.append([r["name"], r["connected"], r["connect_s"], r.get("join_traffic_s", float("nan")), join_text,
                     r["server_peak_rss_mb"], r["server_cpu_s"] * 1e6 / delivered, f"{joined} / {total - joined}",
                     final.get("out_of_order", "?")])
    say(table(["path", "sockets", "connect s", "join traffic s", "join-time messages", "server peak RSS MiB",
               "server CPU µs/delivery", "reconnects join/timed", "out of order"], rows))

    figures = dict(results)
    problems = []
    if "baseline" in results:
        say()
        for key in (k for k in results if k.startswith("studio")):
            for b, s in zip(results["baseline"]["phases"], results[key]["phases"]):
                say(f"{results[key]['name']} @ {rate_label(s['rate'])}: latency vs baseline "
                    f"p50 ×{fmt(ratio(s['latency']['p50'], b['latency']['p50']))}, "
                    f"p99 ×{fmt(ratio(s['latency']['p99'], b['latency']['p99']))}")
    studio = results.get("studio")
    if studio:
        problems += delivery_problems(studio, args)
    for key in (k for k in results if k.startswith("studio:")):
        for problem in delivery_problems(results[key], args):
            say(f"note ({results[key]['name']}): {problem}")
    errors = [line for line in server_log.splitlines() if "Error" in line or "Traceback" in line or "WARNING" in line]
    if errors:
        problems.append(f"the server logged {len(errors)} warning/error lines, first: {errors[0][:300]}")
    for problem in problems:
        say("PROBLEM: " + problem)
    if not problems:
        say("Every socket got every event exactly once, in order.")
    write_json(args.json, {"benchmark": "event_fanout", "sockets": args.sockets, "events": args.events,
                           "rates": rates, "figures": figures, "problems": problems})
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
