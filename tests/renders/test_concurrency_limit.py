"""The per-provider concurrency limit holds across worker processes (through Redis).

Two real Celery workers with two processes each (four task slots) share a provider limited to
2 in flight; six renders are queued at once. The limiter's Redis set is sampled while they run,
and afterwards every job's running interval is checked: never more than two at a time, both
workers took part, and the jobs that had to wait said so.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from renders import services
from renders.limits import Semaphore
from renders.models import TERMINAL_STATUSES, RenderJob, Take
from tests.factories import ProjectFactory
from tests.renders.pipeline_support import Workers, artist_of, small_shot, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIMIT = 2


def max_overlap(intervals) -> int:
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda p: (p[0], p[1]))  # an end sorts before a start at the same instant
    current = peak = 0
    for _, step in points:
        current += step
        peak = max(peak, current)
    return peak


def test_two_workers_never_run_more_than_the_provider_limit(api, settings, tmp_path):
    queue = f"renders-limit-{uuid.uuid4().hex[:8]}"
    settings.RENDER_QUEUE = queue
    project = ProjectFactory(provider_settings={"local": {"max_concurrency": LIMIT}})
    shot = small_shot(project)
    user = artist_of(project)
    workers = Workers(tmp_path, queue, RENDER_SLOT_WAIT_S=0.4, RENDER_LEASE_TTL_S=5)
    name, limit = services.slot_for("local", services.provider_config(project, "local"))
    assert limit == LIMIT
    slots = Semaphore(name, limit, prefix_key=f"{workers.redis_prefix}:renders:slots:{name}")
    samples: list[int] = []
    messages: set[str] = set()
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(slots.in_use())
            time.sleep(0.02)

    try:
        started = [workers.start(f"w{i}", concurrency=2) for i in (1, 2)]
        for process in started:
            workers.wait_ready(process)
        sampler = threading.Thread(target=sample)
        sampler.start()
        response = api(user).post(f"/api/shots/{shot.pk}/renders/", {
            "provider": "local", "kind": "image", "variants": 6, "params": {"latency_s": 1.5}}, format="json")
        assert response.status_code == 202
        ids = [job["id"] for job in response.data["jobs"]]
        jobs = RenderJob.objects.filter(pk__in=ids)

        def all_done():
            messages.update(jobs.values_list("message", flat=True))
            return jobs.filter(status__in=TERMINAL_STATUSES).count() == len(ids)

        wait_for(all_done, 90, 0.05, "all six renders to finish")
    except AssertionError:
        print(workers.logs())
        raise
    finally:
        stop.set()
        workers.stop_all()

    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}, workers.logs()
    assert Take.objects.filter(job__in=ids).count() == 6
    assert samples and max(samples) == LIMIT  # sampled in Redis: the limit was used, never exceeded
    intervals = list(jobs.values_list("started_at", "finished_at"))
    assert max_overlap(intervals) == LIMIT  # from the rows: never more than two running at once
    assert len({job.worker.split("@")[0][:2] for job in jobs}) == 2  # both workers rendered
    assert "Waiting for a free slot on Local (offline)" in messages
    assert slots.in_use() == 0  # every slot given back
