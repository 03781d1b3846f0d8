"""A real Celery worker is killed with SIGKILL mid-render; another one finishes the job.

Nothing is faked: worker processes on real Redis (the broker) against this test's database.
The killed worker never acknowledges its messages (acks_late), so the Redis transport hands
them to the next worker once they have been unacknowledged for its visibility timeout; the
pipeline then resumes each job and the one-to-one take guard keeps it to one take per job.
"""
from __future__ import annotations

import uuid

import pytest

from projects.models import Event
from renders.models import TERMINAL_STATUSES, RenderJob, Take
from tests.factories import ProjectFactory
from tests.renders.pipeline_support import Workers, artist_of, small_shot, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_job_survives_its_worker_being_killed_mid_render(api, settings, tmp_path):
    queue = f"renders-kill-{uuid.uuid4().hex[:8]}"
    settings.RENDER_QUEUE = queue
    project = ProjectFactory()
    shot = small_shot(project)
    user = artist_of(project)
    workers = Workers(tmp_path, queue, RENDER_LEASE_TTL_S=2, RENDER_SLOT_WAIT_S=0.5,
                      CELERY_UNACKED_RESTORE_INTERVAL=1, CELERY_UNACKED_RESTORE_THROTTLE=1)
    try:
        first = workers.start("first", concurrency=2)
        workers.wait_ready(first)
        response = api(user).post(f"/api/shots/{shot.pk}/renders/", {
            "provider": "local", "kind": "image", "variants": 2, "params": {"latency_s": 4}}, format="json")
        assert response.status_code == 202
        ids = [job["id"] for job in response.data["jobs"]]
        jobs = RenderJob.objects.filter(pk__in=ids)

        wait_for(lambda: jobs.filter(status="running", progress__gte=0.2).count() == 2, 30,
                 message="both variants to be mid-render on the first worker")
        workers.kill(first)
        assert not jobs.filter(status__in=TERMINAL_STATUSES).exists()
        assert not Take.objects.filter(job__in=ids).exists()

        # The next worker sees the messages as abandoned after 3 s unacknowledged.
        second = workers.start("second", concurrency=2, CELERY_VISIBILITY_TIMEOUT=3)
        wait_for(lambda: jobs.filter(status__in=TERMINAL_STATUSES).count() == 2, 60,
                 message="the second worker to finish both jobs")
        # Duplicates of the redelivered messages may still arrive: they must find nothing to do.
        wait_for(lambda: b"succeeded" in (tmp_path / "worker-second.log").read_bytes(), 10)
        assert second.poll() is None
    except AssertionError:
        print(workers.logs())
        raise
    finally:
        workers.stop_all()

    for job in jobs:
        assert job.status == "succeeded", (job.status, job.error, workers.logs())
        assert job.attempts == 2  # started by the killed worker, finished by the second one
        assert job.worker.startswith("second-")
    assert sorted(Take.objects.filter(job__in=ids).values_list("job_id", flat=True)) == sorted(ids)
    assert Take.objects.filter(shot=shot).count() == 2  # exactly one take per variant
    running = Event.objects.filter(type="render.state", data__status="running", data__job__in=ids)
    assert running.count() == 4  # each job started twice
