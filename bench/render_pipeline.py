"""What the render pipeline costs on top of the provider, and how throughput scales with workers.

Cases (SQLite in a throwaway folder, the Redis of REDIS_URL under a unique prefix):

- ``provider``     baseline: LocalProvider.submit + wait for N small key frames, nothing else;
- ``pipeline``     the same N renders as render jobs through renders.pipeline.run_job in this
                   process: job rows, run lock, provider slot, state events, progress ticks,
                   probe, thumbnail, storage, take row, notification. The ratio to ``provider``
                   is the pipeline's overhead per take;
- ``serial``       baseline for the workers: M renders with an artificial provider latency
                   (a remote back end's wait), one after another in this process;
- ``workers``      the same M renders through real Celery worker processes (W workers × C
                   processes), the provider limited to K in flight: wall time from the API
                   request to the last take. The speed-up over ``serial`` should approach
                   min(K, W×C) and never exceed it (the limit holds across workers).

    .venv/bin/python bench/render_pipeline.py [--jobs 12] [--latency 1.0] [--parallel-jobs 8]
        [--workers 2] [--concurrency 2] [--limit 4] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
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
    setup_django,
    summary,
    table,
    throwaway_environment,
    write_json,
)

SIZE = (320, 180)
PROMPT = "孤舟蓑笠翁，独钓寒江雪 — a lone fisherman on a snowy river"


def prepare():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from projects.models import Membership, Project, PromptRevision, Role, Shot

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="x" * 12)
    project = Project.objects.create(name="Bench", width=SIZE[0], height=SIZE[1], fps=12)
    membership = Membership.objects.create(project=project, user=user, role=Role.ARTIST)
    shot = Shot.objects.create(project=project, code="SH010", duration_s=1)
    PromptRevision.objects.create(shot=shot, number=1, prompt=PROMPT, author=user)
    return membership, shot


def bare_provider(n: int) -> list[float]:
    from renders.providers.base import RenderRequest
    from renders.providers.local import LocalProvider

    provider, times = LocalProvider(), []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(n):
            request = RenderRequest(kind="image", prompt=PROMPT, seed=seed, width=SIZE[0], height=SIZE[1])
            start = time.perf_counter()
            ref = provider.submit(request)
            provider.wait(ref, request, Path(tmp), lambda f, m: None, lambda: False)
            times.append(time.perf_counter() - start)
    return times


def through_pipeline(membership, shot, n: int, params: dict | None = None) -> tuple[list[float], int]:
    from renders import pipeline, services
    from renders.models import Take

    times = []
    for seed in range(n):
        start = time.perf_counter()
        (job,) = services.create_render_jobs(membership, shot, provider="local", kind="image", seed=seed,
                                             params=params or {})
        outcome = pipeline.run_job(job.pk)
        times.append(time.perf_counter() - start)
        assert outcome.result == "succeeded", (outcome, job.pk)
    return times, Take.objects.filter(shot=shot).count()


def start_workers(count: int, concurrency: int, queue: str, log_dir: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "RENDER_QUEUE": queue, "RENDER_SLOT_WAIT_S": "0.2", "PYTHONUNBUFFERED": "1"}
    processes = []
    for index in range(count):
        log = open(log_dir / f"worker{index}.log", "wb")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", queue, "-c", str(concurrency),
             "--hostname", f"bench{index}-{uuid.uuid4().hex[:4]}@%h", "--without-gossip", "--without-mingle",
             "--loglevel", "WARNING"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return processes


def stop_workers(processes) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def through_workers(membership, shot, n: int, latency: float, workers: int, concurrency: int, limit: int,
                    log_dir: Path) -> dict:
    from django.conf import settings
    from django.db import transaction

    from projects.models import Project
    from renders import services
    from renders.limits import Semaphore
    from renders.models import TERMINAL_STATUSES, RenderJob

    Project.objects.filter(pk=shot.project_id).update(provider_settings={"local": {"max_concurrency": limit}})
    membership.project.refresh_from_db()
    queue = f"bench-{RUN_ID}"
    settings.RENDER_QUEUE = queue
    processes = start_workers(workers, concurrency, queue, log_dir)
    try:
        time.sleep(0.5)
        # Wait until every worker answers (each takes a couple of seconds to import Django).
        from studio.celery import app

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            if len(replies) >= workers:
                break
        name, _ = services.slot_for("local", services.provider_config(membership.project, "local"))
        slots = Semaphore(name, limit)
        peak = 0
        start = time.perf_counter()
        with transaction.atomic():
            jobs = services.create_render_jobs(membership, shot, provider="local", kind="image", variants=n,
                                               params={"latency_s": latency})
        ids = [job.pk for job in jobs]
        while RenderJob.objects.filter(pk__in=ids, status__in=TERMINAL_STATUSES).count() < n:
            peak = max(peak, slots.in_use())
            if time.perf_counter() - start > 60 + n * latency * 2:
                raise RuntimeError("the workers did not finish in time; see the worker logs in " + str(log_dir))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        statuses = list(RenderJob.objects.filter(pk__in=ids).values_list("status", flat=True))
        return {"wall_s": wall, "jobs": n, "succeeded": statuses.count("succeeded"), "peak_in_flight": peak,
                "workers": workers, "concurrency": concurrency, "limit": limit}
    finally:
        stop_workers(processes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=12, help="renders for provider vs pipeline")
    parser.add_argument("--parallel-jobs", type=int, default=8, help="renders for serial vs workers")
    parser.add_argument("--latency", type=float, default=1.0, help="artificial provider latency (s) for workers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--limit", type=int, default=4, help="provider max_concurrency")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    var_dir = throwaway_environment("render-pipeline")
    os.environ.pop("DATABASE_URL", None)  # the workers share this throwaway SQLite file
    os.environ["REDIS_PREFIX"] = RUN_ID
    setup_django()
    problems = []
    try:
        say(f"render pipeline benchmark — {machine()}")
        membership, shot = prepare()
        bare_provider(1)  # warm-up: fonts, imports
        provider_times = bare_provider(args.jobs)
        pipeline_times, takes = through_pipeline(membership, shot, args.jobs)
        if takes != args.jobs:
            problems.append(f"{takes} takes for {args.jobs} jobs")
        p, q = summary(provider_times), summary(pipeline_times)
        overhead_ms = (q["p50"] - p["p50"]) * 1000
        say(table(["case", "renders", "p50 ms", "p95 ms", "renders/s"], [
            ["provider only (baseline)", args.jobs, p["p50"] * 1000, p["p95"] * 1000, 1 / statistics.mean(provider_times)],
            ["through the pipeline", args.jobs, q["p50"] * 1000, q["p95"] * 1000, 1 / statistics.mean(pipeline_times)],
        ], title=f"\n{SIZE[0]}×{SIZE[1]} key frames, one process"))
        say(f"pipeline / provider: ×{fmt(ratio(q['p50'], p['p50']))} (p50), {overhead_ms:.0f} ms of overhead per take")

        serial_start = time.perf_counter()
        through_pipeline(membership, shot, args.parallel_jobs, {"latency_s": args.latency})
        serial_s = time.perf_counter() - serial_start
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as logs:
            result = through_workers(membership, shot, args.parallel_jobs, args.latency, args.workers,
                                     args.concurrency, args.limit, Path(logs))
        capacity = min(args.limit, args.workers * args.concurrency)
        speedup = ratio(serial_s, result["wall_s"])
        say(table(["case", "renders", "wall s", "renders/s", "peak in flight"], [
            ["serial, one process (baseline)", args.parallel_jobs, serial_s, args.parallel_jobs / serial_s, 1],
            [f"{args.workers} workers × {args.concurrency}, limit {args.limit}", args.parallel_jobs,
             result["wall_s"], args.parallel_jobs / result["wall_s"], result["peak_in_flight"]],
        ], title=f"\n{args.latency:g} s provider latency"))
        say(f"speed-up ×{fmt(speedup)} (ideal ×{capacity}: min(limit, worker processes))")
        if result["succeeded"] != args.parallel_jobs:
            problems.append(f"{result['succeeded']} of {args.parallel_jobs} worker renders succeeded")
        if result["peak_in_flight"] > args.limit:
            problems.append(f"{result['peak_in_flight']} renders in flight with a limit of {args.limit}")
        for problem in problems:
            say(f"PROBLEM: {problem}")
        write_json(args.json, {
            "size": SIZE, "problems": problems,
            "figures": {
                "provider": p, "pipeline": q, "overhead_ms_p50": overhead_ms,
                "pipeline_vs_provider_p50": ratio(q["p50"], p["p50"]),
                "serial_s": serial_s, "workers": result, "speedup": speedup, "ideal_speedup": capacity,
            },
        })
        return 1 if problems else 0
    finally:
        remove_tree(var_dir)


def summary_lines(d: dict) -> list[str]:
    """For bench/run_all.py."""
    f = d["figures"]
    w = f["workers"]
    return [
        f"pipeline vs bare provider: ×{fmt(f['pipeline_vs_provider_p50'])} p50 ({f['overhead_ms_p50']:.0f} ms overhead per take)",
        f"{w['workers']} workers × {w['concurrency']}, limit {w['limit']}: ×{fmt(f['speedup'])} over serial "
        f"(ideal ×{f['ideal_speedup']}), peak {w['peak_in_flight']} in flight",
    ]


if __name__ == "__main__":
    sys.exit(main())
