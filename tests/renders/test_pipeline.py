"""The render pipeline in-process: idempotency, resume, retries with backoff, permanent failures,
cancel, provider slots, progress ticks and the reaper — against real PostgreSQL/Redis and the
fake Replicate server on loopback."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from channels.layers import get_channel_layer
from django.utils import timezone

from projects.events import project_group
from projects.models import Event, Membership, Notification
from renders import media, pipeline, reaper, services
from renders.limits import RunLock, Semaphore
from renders.media import MediaError
from renders.models import RenderJob, RenderStatus, Take
from renders.providers import get_provider
from renders.tasks import run_render_job
from tests.fakes.replicate import FakeReplicate
from tests.renders.pipeline_support import artist_of, broker_prefix, purge_queue, small_shot, wait_for

TOKEN = "r8_pipeline_token"


def new_jobs(shot, user, provider="local", kind="image", variants=1, **fields):
    membership = Membership.objects.get(project=shot.project, user=user)
    return services.create_render_jobs(membership, shot, provider=provider, kind=kind, variants=variants, **fields)


def stored_take_files(settings, project_id) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "projects" / str(project_id) / "takes"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture(autouse=True)
def scratch_queue(settings):
    """Tasks queued by tests that commit go to a queue of their own, dropped afterwards."""
    settings.RENDER_QUEUE = f"renders-test-{uuid.uuid4().hex[:8]}"
    yield settings.RENDER_QUEUE
    purge_queue(broker_prefix(), settings.RENDER_QUEUE)


@pytest.fixture
def replicate(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    with FakeReplicate(token=TOKEN, steps=2) as server:
        yield server


@pytest.fixture
def replicate_project(project, replicate):
    project.provider_settings = {"replicate": {"base_url": replicate.base_url, "model": "black-forest-labs/flux-schnell",
                                               "poll_interval_s": 0.01, "price_per_second": "0.002"}}
    project.save()
    return project


# --- idempotency -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_running_the_task_twice_makes_one_take(project, settings):
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project))
    assert run_render_job.apply(args=[job.pk]).get() == "succeeded"
    assert run_render_job.apply(args=[job.pk]).get() == "skipped"  # a redelivered message
    assert Take.objects.filter(job=job).count() == 1
    assert len(stored_take_files(settings, project.pk)) == 2  # the PNG and its thumbnail, nothing more
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (RenderStatus.SUCCEEDED, 1, 1.0)


@pytest.mark.django_db
def test_a_duplicate_delivery_comes_back_later_while_another_execution_runs(project):
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project))
    holder = RunLock(job.pk)
    assert holder.acquire()
    try:
        outcome = pipeline.run_job(job.pk)
        assert outcome.result == "retry" and outcome.retry_in == pytest.approx(holder.ttl)
        job.refresh_from_db()
        assert (job.status, job.attempts) == (RenderStatus.QUEUED, 0)  # untouched
    finally:
        holder.release()
    assert pipeline.run_job(job.pk).result == "succeeded"


@pytest.mark.django_db
def test_a_take_is_written_once_even_if_two_executions_finish(project, settings, tmp_path):
    """The database guard under the run lock: a second finish() for the same job stores nothing."""
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project))
    provider = get_provider("local", {})
    services.set_job_state(job, RenderStatus.RUNNING, attempts=1)
    request = pipeline.build_request(job, tmp_path)
    results = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        results.append(provider.wait("local-x", request, workdir, lambda f, m: None, lambda: False))
    first = pipeline.finish(job, results[0], tmp_path / "a")
    assert pipeline.finish(job, results[1], tmp_path / "b") is None
    assert list(Take.objects.filter(job=job)) == [first]
    assert {p.name for p in stored_take_files(settings, project.pk)} == {Path(first.media.name).name,
                                                                        Path(first.thumbnail.name).name}


@pytest.mark.django_db(transaction=True)
def test_concurrent_executions_of_one_job_make_one_take(project):
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project), params={"latency_s": 0.5})
    outcomes = []
    start = threading.Barrier(2)

    def execute():
        start.wait()
        try:
            outcomes.append(pipeline.run_job(job.pk).result)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=execute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["retry", "succeeded"]
    assert Take.objects.filter(job=job).count() == 1


# --- resume, retries, failures ---------------------------------------------------------------


@pytest.mark.django_db
def test_resume_after_a_crash_follows_the_submitted_prediction_instead_of_submitting_again(
        replicate_project, replicate, tmp_path):
    shot = small_shot(replicate_project)
    (job,) = new_jobs(shot, artist_of(replicate_project), provider="replicate")
    # A worker submitted, saved the prediction id, and died before it could finish.
    adapter = get_provider("replicate", services.provider_config(replicate_project, "replicate"))
    ref = adapter.submit(pipeline.build_request(job, tmp_path))
    services.set_job_state(job, RenderStatus.RUNNING, attempts=1, provider_job_id=ref)

    assert run_render_job.apply(args=[job.pk]).get() == "succeeded"
    assert len(replicate.requests_to("POST", "/v1/predictions")) == 1
    take = Take.objects.get(job=job)
    assert take.provider_job_id == ref and take.provider == "replicate"
    assert take.cost is not None and float(take.cost) == pytest.approx(4.25 * 0.002, abs=1e-4)
    job.refresh_from_db()
    assert job.attempts == 2 and job.provider_job_id == ref


def test_backoff_grows_exponentially_is_capped_and_honours_retry_after(settings):
    settings.RENDER_RETRY_BASE_S = 2
    settings.RENDER_RETRY_MAX_DELAY_S = 60
    delays = [pipeline.backoff(attempt) for attempt in range(1, 8)]
    for attempt, delay in enumerate(delays[:5], start=1):
        assert 2 * 2 ** (attempt - 1) <= delay <= 2.5 * 2 ** (attempt - 1)
    assert delays[-1] == 60
    assert pipeline.backoff(1, retry_after=17) == 17
    assert pipeline.backoff(1, retry_after=1000) == 60


@pytest.mark.django_db
def test_transient_errors_are_retried_with_backoff_then_succeed(replicate_project, replicate, settings):
    settings.RENDER_RETRY_BASE_S = 1
    replicate.add_fault("POST", "/v1/predictions", status=429, times=1, headers={"Retry-After": "7"},
                        body={"title": "Too many requests", "detail": "Request was throttled.", "status": 429})
    replicate.add_fault("POST", "/v1/predictions", status=503, times=1, body="upstream unavailable")
    shot = small_shot(replicate_project)
    user = artist_of(replicate_project)
    (job,) = new_jobs(shot, user, provider="replicate")

    first = pipeline.run_job(job.pk)
    assert first.result == "retry" and first.retry_in == pytest.approx(7)  # the provider's Retry-After
    job.refresh_from_db()
    assert job.status == RenderStatus.QUEUED and job.message.startswith("Retrying in 7 s (attempt 2 of 5)")

    second = pipeline.run_job(job.pk)
    assert second.result == "retry" and 2 <= second.retry_in <= 2.5  # exponential: 1 s * 2**1
    assert pipeline.run_job(job.pk).result == "succeeded"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (RenderStatus.SUCCEEDED, 3, "")
    assert len(replicate.requests_to("POST", "/v1/predictions")) == 3
    statuses = list(Event.objects.filter(type="render.state", data__job=job.pk).order_by("seq")
                    .values_list("data__status", flat=True))
    assert statuses == ["queued", "running", "queued", "running", "queued", "running", "succeeded"]
    assert Notification.objects.get(user=user).kind == Notification.Kind.RENDER_SUCCEEDED


@pytest.mark.django_db
def test_the_celery_task_retries_transient_errors(replicate_project, replicate, settings):
    """Through the task's own retry (run eagerly here, so the countdown is not waited for)."""
    replicate.add_fault("GET", "/v1/predictions/.*", status=502, times=4, body="bad gateway")  # > poll_retries
    shot = small_shot(replicate_project)
    (job,) = new_jobs(shot, artist_of(replicate_project), provider="replicate")
    assert run_render_job.apply(args=[job.pk]).get() == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2
    assert len(replicate.requests_to("POST", "/v1/predictions")) == 1  # the retry resumed the prediction


@pytest.mark.django_db
def test_transient_errors_are_bounded(replicate_project, replicate, settings):
    settings.RENDER_MAX_ATTEMPTS = 2
    replicate.add_fault("POST", "/v1/predictions", status=500, times=10, body="boom")
    shot = small_shot(replicate_project)
    (job,) = new_jobs(shot, artist_of(replicate_project), provider="replicate")
    assert pipeline.run_job(job.pk).result == "retry"
    assert pipeline.run_job(job.pk).result == "failed"
    job.refresh_from_db()
    assert job.status == RenderStatus.FAILED
    assert job.error.endswith("(gave up after 2 attempts)") and "Replicate" in job.error


@pytest.mark.django_db
def test_a_permanent_failure_fails_at_once_with_a_readable_error(api, replicate_project, replicate):
    replicate.fail_error = "NSFW content detected. Try running it again, or try a different prompt."
    shot = small_shot(replicate_project)
    user = artist_of(replicate_project)
    (job,) = new_jobs(shot, user, provider="replicate", variants=2)[:1]
    outcome = pipeline.run_job(job.pk)
    assert outcome.result == "failed" and outcome.retry_in is None
    detail = api(user).get(f"/api/renders/{job.pk}/").data
    assert detail["status"] == "failed" and "NSFW content detected" in detail["error"]
    assert "Traceback" not in detail["error"]
    assert not Take.objects.exists()
    assert not Notification.objects.exists()  # the other variant of the request is still queued
    other = RenderJob.objects.exclude(pk=job.pk).get()
    replicate.fail_error = None
    assert pipeline.run_job(other.pk).result == "succeeded"
    note = Notification.objects.get(user=user)
    assert note.kind == Notification.Kind.RENDER_FAILED
    assert "1 image take ready, 1 failed: Replicate prediction" in note.text


@pytest.mark.django_db
def test_a_missing_credential_is_a_readable_failure(replicate_project, monkeypatch):
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    shot = small_shot(replicate_project)
    (job,) = new_jobs(shot, artist_of(replicate_project), provider="replicate")
    assert pipeline.run_job(job.pk).result == "failed"
    job.refresh_from_db()
    assert job.error == "Replicate needs a credential: set the environment variable REPLICATE_API_TOKEN on the workers"
    assert TOKEN not in json.dumps(list(Event.objects.values_list("data", flat=True)))


GARBAGE_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def write_garbage(folder: Path) -> Path:
    path = folder / "garbage.png"
    path.write_bytes(GARBAGE_PNG)
    return path


@pytest.mark.django_db
def test_a_result_that_cannot_be_read_fails_with_the_media_error(replicate_project, replicate, settings, tmp_path):
    replicate.add_fault("GET", "/files/.*", status=200, body=GARBAGE_PNG, content_type="image/png")
    shot = small_shot(replicate_project)
    (job,) = new_jobs(shot, artist_of(replicate_project), provider="replicate")
    assert pipeline.run_job(job.pk).result == "failed"
    job.refresh_from_db()
    with pytest.raises(MediaError) as probed:
        media.probe(write_garbage(tmp_path))
    assert job.error == probed.value.message  # the media check's own words, nothing raw
    assert not Take.objects.exists() and stored_take_files(settings, replicate_project.pk) == []


@pytest.mark.django_db
def test_an_adapter_rejecting_its_input_fails_readably(project):
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project), params={"palette": "neon"})
    assert pipeline.run_job(job.pk).result == "failed"
    job.refresh_from_db()
    assert job.error.startswith("Unknown palette 'neon'")


# --- cancel ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_canceling_a_running_job_stops_its_task(api, project, settings):
    shot = small_shot(project)
    user = artist_of(project)
    (job,) = new_jobs(shot, user, params={"latency_s": 8})
    outcome = []

    def execute():
        try:
            outcome.append(pipeline.run_job(job.pk))
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=execute)
    thread.start()
    wait_for(lambda: RenderJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(), 15,
             message="the job to run")
    response = api(user).post(f"/api/renders/{job.pk}/cancel/")
    assert response.status_code == 200 and response.data["status"] == "canceled"
    started = time.monotonic()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 2  # the Redis flag is seen within a tick
    assert outcome[0].result == "canceled"
    job.refresh_from_db()
    assert job.status == RenderStatus.CANCELED and job.message == f"Canceled by {user.username}"
    assert not Take.objects.exists() and stored_take_files(settings, project.pk) == []
    assert not Semaphore(*services.slot_for("local", {})).holders()  # its slot is free again


@pytest.mark.django_db(transaction=True)
def test_canceling_a_running_remote_job_cancels_it_at_the_provider(api, replicate_project, replicate):
    replicate.steps = 10_000  # a prediction that would run for a long time
    shot = small_shot(replicate_project)
    user = artist_of(replicate_project)
    (job,) = new_jobs(shot, user, provider="replicate")
    outcome = []

    def execute():
        try:
            outcome.append(pipeline.run_job(job.pk))
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=execute)
    thread.start()
    wait_for(lambda: RenderJob.objects.filter(pk=job.pk, status="running").exclude(provider_job_id="").exists(), 15,
             message="the prediction to be submitted")
    prediction = RenderJob.objects.get(pk=job.pk).provider_job_id
    assert api(user).post(f"/api/renders/{job.pk}/cancel/").status_code == 200
    thread.join(10)
    assert not thread.is_alive() and outcome[0].result == "canceled"
    assert replicate.requests_to("POST", f"/v1/predictions/{prediction}/cancel")
    assert replicate.predictions[prediction].status == "canceled"
    assert not Take.objects.exists()


# --- provider slots ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_waits_for_a_free_slot_without_holding_a_worker(project, settings):
    settings.RENDER_SLOT_WAIT_S = 4
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project))
    name, limit = services.slot_for("local", services.provider_config(project, "local"))
    slots = Semaphore(name, limit)
    assert limit == 2 and slots.acquire("job:other-1") and slots.acquire("job:other-2")

    outcome = pipeline.run_job(job.pk)
    assert outcome.result == "retry" and 3 <= outcome.retry_in <= 5
    job.refresh_from_db()
    assert (job.status, job.message, job.attempts) == (RenderStatus.QUEUED, "Waiting for a free slot on Local (offline)", 0)

    slots.release("job:other-1")
    assert pipeline.run_job(job.pk).result == "succeeded"
    assert slots.holders() == ["job:other-2"]


@pytest.mark.django_db
def test_the_limit_comes_from_the_project_and_is_per_credential(project):
    project.provider_settings = {"replicate": {"model": "m", "max_concurrency": 5, "api_key_env": "STUDIO_B_API_TOKEN"},
                                 "comfyui": {"base_url": "http://10.0.0.5:8188"}}
    assert services.slot_for("replicate", services.provider_config(project, "replicate")) == (
        "replicate:STUDIO_B_API_TOKEN", 5)
    name, limit = services.slot_for("comfyui", services.provider_config(project, "comfyui"))
    assert name.startswith("comfyui:") and "10.0.0.5" not in name and limit == 2
    assert services.slot_for("local", services.provider_config(project, "local")) == ("local:default", 2)


# --- limiter primitives --------------------------------------------------------------------


def test_semaphore_holds_at_most_limit_is_reentrant_and_leases_expire(db):
    slots = Semaphore("unit-test", 2, ttl=0.3)
    assert slots.acquire("a") and slots.acquire("b")
    assert not slots.acquire("c")
    assert slots.acquire("a")  # the same holder (a redelivered job) keeps its slot
    assert slots.in_use() == 2
    slots.release("b")
    assert slots.acquire("c") and not slots.acquire("d")
    time.sleep(0.4)  # "a" and "c" stopped renewing (their worker died)
    assert slots.in_use() == 0
    assert slots.acquire("d")


def test_run_lock_is_exclusive_and_expires(db):
    first, second = RunLock(99, ttl=0.3), RunLock(99, ttl=0.3)
    assert first.acquire() and not second.acquire()
    assert first.renew() and not second.renew()
    second.release()  # not its lock: nothing happens
    assert RunLock.is_held(99)
    time.sleep(0.4)
    assert not RunLock.is_held(99) and second.acquire()
    first.release()
    assert RunLock.is_held(99)  # the late first holder cannot free the new owner's lock
    second.release()
    assert not RunLock.is_held(99)


# --- progress ticks --------------------------------------------------------------------------


@pytest.mark.django_db
def test_progress_ticks_are_published_throttled_and_not_stored(project, settings):
    settings.RENDER_PROGRESS_MAX_PER_SECOND = 4
    shot = small_shot(project)
    (job,) = new_jobs(shot, artist_of(project))
    services.set_job_state(job, RenderStatus.RUNNING)
    events_before = Event.objects.count()

    def hammer():
        ticker = pipeline.Ticker(job)
        deadline = time.monotonic() + 1.6
        n = 0
        while time.monotonic() < deadline:
            n += 1
            ticker.report(min(1.0, n / 1000), f"step {n}")
            time.sleep(0.005)
        return n

    received, ready, stop = [], threading.Event(), threading.Event()

    def listen():
        async def main():
            layer = get_channel_layer()
            channel = await layer.new_channel()
            await layer.group_add(project_group(project.pk), channel)
            ready.set()
            while not stop.is_set():
                try:
                    received.append(await asyncio.wait_for(layer.receive(channel), 0.2))
                except asyncio.TimeoutError:
                    pass

        asyncio.run(main())

    listener = threading.Thread(target=listen)
    listener.start()
    assert ready.wait(10)
    calls = hammer()
    time.sleep(0.5)
    stop.set()
    listener.join(5)
    ticks = [message["data"] for message in received if message["type"] == "studio.progress"]
    assert calls > 100
    assert 5 <= len(ticks) <= 8  # at most 4 a second over 1.6 s, however often the adapter reports
    assert len(received) == len(ticks)  # nothing else: a tick is not an event
    assert ticks[0]["job"] == job.pk and ticks[0]["shot"] == shot.pk and ticks[-1]["message"].startswith("step ")
    job.refresh_from_db()
    assert job.message.startswith("step ") and job.progress > 0  # the row follows, about once a second
    assert Event.objects.count() == events_before


# --- reaper ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reaper_requeues_once_then_fails_jobs_whose_worker_vanished(project, django_capture_on_commit_callbacks):
    shot = small_shot(project)
    user = artist_of(project)
    vanished, retried, alive, fresh = new_jobs(shot, user, variants=4)
    long_ago = timezone.now() - timedelta(minutes=10)
    for job, attempts in ((vanished, 1), (retried, 2), (alive, 1), (fresh, 1)):
        services.set_job_state(job, RenderStatus.RUNNING, attempts=attempts)
    RenderJob.objects.filter(pk__in=[vanished.pk, retried.pk, alive.pk]).update(heartbeat_at=long_ago)
    lock = RunLock(alive.pk)
    assert lock.acquire()  # its worker is alive, blocked in a long call, renewing its lock
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            report = reaper.reap()
    finally:
        lock.release()
    assert report == {"requeued": [vanished.pk], "failed": [retried.pk], "resent": []}
    assert [cb.__qualname__ for cb in callbacks].count("enqueue.<locals>.send") == 1
    states = dict(RenderJob.objects.values_list("pk", "status"))
    assert states == {vanished.pk: "queued", retried.pk: "failed", alive.pk: "running", fresh.pk: "running"}
    assert RenderJob.objects.get(pk=retried.pk).error == "The worker stopped responding."
    assert RenderJob.objects.get(pk=vanished.pk).message == "The worker stopped responding; queued again"
    # Once its lock has expired, the blocked worker is taken for vanished too.
    assert reaper.reap() == {"requeued": [alive.pk], "failed": [], "resent": []}
    assert reaper.reap() == {"requeued": [], "failed": [], "resent": []}


@pytest.mark.django_db
def test_the_reaper_requeues_jobs_whose_message_was_lost(project, django_capture_on_commit_callbacks):
    shot = small_shot(project)
    lost, waiting = new_jobs(shot, artist_of(project), variants=2)
    RenderJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    RenderJob.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=1),
                                                   heartbeat_at=timezone.now())  # a task looked at it just now
    with django_capture_on_commit_callbacks() as callbacks:
        assert reaper.reap()["resent"] == [lost.pk]
    assert [cb.__qualname__ for cb in callbacks].count("enqueue.<locals>.send") == 1
    assert reaper.reap()["resent"] == []  # not again every minute
    assert pipeline.run_job(lost.pk).result == "succeeded"


def test_the_reaper_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reap-render-jobs"]
    assert entry["task"] == "renders.reap_render_jobs" and entry["schedule"] <= 60
    from studio.celery import app

    app.loader.import_default_modules()
    assert "renders.reap_render_jobs" in app.tasks and "renders.run_render_job" in app.tasks
