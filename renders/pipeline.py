"""One execution of a render job: from the job row to a take, whatever happens to the worker.

``run_job(job_id)`` is what the Celery task calls. It is safe to call any number of times, in
any number of processes at once, for the same job:

- a terminal job, or one that already has its take, is left alone;
- a Redis run lock lets one execution work on a job at a time; a duplicate (a redelivered
  message while the first worker is alive) is told to come back later;
- a provider slot (renders.limits.Semaphore) bounds in-flight renders per credential across
  all workers; without one the job stays queued with "Waiting for a free slot on …";
- the provider's reference is saved right after ``submit``, so an execution that finds it
  resumes with ``wait`` instead of submitting (and paying) again;
- the take is written under the job's row lock and its one-to-one with the job, so at most
  one take per job exists, however often the task runs.

It returns an ``Outcome``; ``retry_in`` asks the task to run again after that many seconds
(waiting for a slot, or backing off after a transient provider error). Every state change
goes through ``services.set_job_state``; progress ticks through ``services.publish_progress``.
"""
from __future__ import annotations

import logging
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from projects.models import Asset

from . import media, services, storage
from .limits import LeaseKeeper, RunLock, Semaphore, cancel_flag_set
from .models import TERMINAL_STATUSES, RenderJob, RenderKind, RenderStatus, Take
from .providers import get_provider, provider_class
from .providers.base import (
    OutputFile,
    PermanentProviderError,
    Provider,
    ProviderError,
    RenderCanceled,
    RenderRequest,
    RenderResult,
    TransientProviderError,
)

log = logging.getLogger(__name__)

#: Seconds between database writes of a running job's progress / heartbeat.
DB_PROGRESS_INTERVAL_S = 1.0
#: Seconds between looks at the Redis cancel flag and at the job row.
CANCEL_FLAG_INTERVAL_S = 0.25
CANCEL_DB_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Outcome:
    result: str  # "succeeded", "failed", "canceled", "skipped", "retry"
    retry_in: float | None = None
    reason: str = ""

    @classmethod
    def retry(cls, seconds: float, reason: str) -> "Outcome":
        return cls("retry", max(0.1, seconds), reason)


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff for the ``attempt``-th failure (1-based), with jitter, never sooner than
    the provider's Retry-After, capped at RENDER_RETRY_MAX_DELAY_S."""
    delay = settings.RENDER_RETRY_BASE_S * 2 ** max(0, attempt - 1) * random.uniform(1.0, 1.25)
    if retry_after:
        delay = max(delay, float(retry_after))
    return min(delay, settings.RENDER_RETRY_MAX_DELAY_S)


def _slot_wait() -> float:
    return settings.RENDER_SLOT_WAIT_S * random.uniform(0.75, 1.25)


def run_job(job_id: int, *, worker: str = "") -> Outcome:
    """Run (or resume) job ``job_id`` once; see the module docstring."""
    job = RenderJob.objects.select_related("project", "shot", "source_take").filter(pk=job_id).first()
    if job is None:
        log.warning("render job %s does not exist (deleted?); nothing to do", job_id)
        return Outcome("skipped", reason="missing")
    if job.status in TERMINAL_STATUSES or Take.objects.filter(job_id=job_id).exists():
        return Outcome("skipped", reason=job.status)
    lock = RunLock(job.pk)
    if not lock.acquire():
        return Outcome.retry(lock.ttl, "another execution holds this job")
    try:
        return _with_slot(job, lock, worker)
    finally:
        try:
            lock.release()
        except redis.RedisError:
            log.warning("could not release the run lock of job %s; it expires by itself", job.pk)


def _with_slot(job: RenderJob, lock: RunLock, worker: str) -> Outcome:
    config = services.provider_config(job.project, job.provider)
    try:
        label = provider_class(job.provider).label
        slot_name, limit = services.slot_for(job.provider, config)
    except ProviderError as exc:
        _fail(job, exc.message)
        return Outcome("failed", reason="provider")
    semaphore, holder = Semaphore(slot_name, limit), f"job:{job.pk}"
    if not semaphore.acquire(holder):
        _waiting(job, f"Waiting for a free slot on {label}")
        return Outcome.retry(_slot_wait(), "no free slot")
    try:
        with LeaseKeeper(lock.renew, lambda: semaphore.renew(holder)):
            return _execute(job, config, worker)
    finally:
        try:
            semaphore.release(holder)
        except redis.RedisError:
            log.warning("could not release the %s slot of job %s; it expires by itself", slot_name, job.pk)


def _waiting(job: RenderJob, message: str) -> None:
    """Queued and waiting: say why (row + progress tick), and show the reaper someone is looking."""
    updated = RenderJob.objects.filter(pk=job.pk, status__in=(RenderStatus.QUEUED, RenderStatus.RUNNING)).update(
        message=message, heartbeat_at=timezone.now())
    if updated and job.message != message:
        job.message = message
        services.publish_progress(job, job.progress, message)


def _fail(job: RenderJob, error: str) -> None:
    services.set_job_state(job, RenderStatus.FAILED, message="Failed", error=error or "The render failed.")


def _execute(job: RenderJob, config: dict, worker: str) -> Outcome:
    job.refresh_from_db()
    if job.status in TERMINAL_STATUSES:
        return Outcome("skipped", reason=job.status)
    attempts = job.attempts + 1
    if attempts > settings.RENDER_MAX_ATTEMPTS:
        last = job.error or "the worker running it stopped"
        _fail(job, f"Gave up after {job.attempts} attempts ({last}).")
        return Outcome("failed", reason="attempts")
    resumed = bool(job.provider_job_id)
    if not services.set_job_state(job, RenderStatus.RUNNING, message="Resuming" if resumed else "Starting",
                                  attempts=attempts, worker=worker[:200]):
        return Outcome("skipped", reason=job.status)

    workdir = Path(tempfile.mkdtemp(prefix=f"render-{job.pk}-"))
    ticker = Ticker(job)
    provider: Provider | None = None
    ref = job.provider_job_id
    try:
        provider = get_provider(job.provider, config)
        request = build_request(job, workdir)
        if not ref:
            if ticker.is_canceled():
                raise RenderCanceled()
            ref = provider.submit(request)
            RenderJob.objects.filter(pk=job.pk).update(provider_job_id=str(ref)[:200])
            job.provider_job_id = str(ref)[:200]
        out = workdir / "out"
        out.mkdir()
        result = provider.wait(ref, request, out, ticker.report, ticker.is_canceled)
        if ticker.is_canceled():
            raise RenderCanceled()
        ticker.report(1.0, "Saving the take")
        take = finish(job, result, workdir)
        if take is None:
            job.refresh_from_db()
            return Outcome("skipped", reason=job.status)
        return Outcome("succeeded")
    except RenderCanceled:
        _cancel_at_provider(provider, ref)
        services.set_job_state(job, RenderStatus.CANCELED, message="Canceled")
        return Outcome("canceled")
    except TransientProviderError as exc:
        return _transient(job, exc)
    except (ProviderError, media.MediaError) as exc:
        _fail(job, exc.message)
        return Outcome("failed", reason="permanent")
    except SoftTimeLimitExceeded:
        _cancel_at_provider(provider, ref)
        minutes = round(settings.RENDER_TASK_SOFT_TIME_LIMIT_S / 60)
        _fail(job, f"The render took longer than the {minutes}-minute limit and was stopped.")
        return Outcome("failed", reason="time limit")
    except (OperationalError, redis.ConnectionError, redis.TimeoutError):
        raise  # infrastructure: the task retries; the job stays running until then (or the reaper)
    except Exception as exc:  # noqa: BLE001 - an adapter bug must end as a readable failure
        log.exception("render job %s failed unexpectedly", job.pk)
        _fail(job, f"The render failed unexpectedly ({exc.__class__.__name__}); the worker log has the details.")
        return Outcome("failed", reason="unexpected")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _transient(job: RenderJob, exc: TransientProviderError) -> Outcome:
    if job.attempts >= settings.RENDER_MAX_ATTEMPTS:
        _fail(job, f"{exc.message} (gave up after {job.attempts} attempts)")
        return Outcome("failed", reason="transient, attempts used")
    delay = backoff(job.attempts, exc.retry_after)
    reason = exc.message if len(exc.message) <= 200 else exc.message[:199] + "…"
    services.set_job_state(job, RenderStatus.QUEUED, progress=0.0,
                           message=f"Retrying in {delay:.0f} s (attempt {job.attempts + 1} of "
                                   f"{settings.RENDER_MAX_ATTEMPTS}): {reason}")
    return Outcome.retry(delay, "transient")


def _cancel_at_provider(provider: Provider | None, ref: str) -> None:
    if provider is None or not ref or not provider.supports_cancel:
        return
    try:
        provider.cancel(ref)
    except Exception:  # noqa: BLE001 - best effort: the job is canceled on our side either way
        log.warning("could not cancel %s job %s at the provider", provider.name, ref, exc_info=True)


class Ticker:
    """The adapter's ``report`` and ``is_canceled``: throttled progress ticks, row updates and cancel checks.

    Ticks go to the sockets at most RENDER_PROGRESS_MAX_PER_SECOND a second; the row (progress,
    message, heartbeat) is written at most once a second. Cancel is seen through the Redis flag
    (fast) and the row (slower, but survives a Redis restart).
    """

    def __init__(self, job: RenderJob):
        self.job = job
        self.interval = 1.0 / max(0.1, settings.RENDER_PROGRESS_MAX_PER_SECOND)
        self.last_tick = self.last_row = self.last_flag = self.last_check = float("-inf")
        self.canceled = False

    def report(self, fraction: float, message: str) -> None:
        try:
            fraction = max(0.0, min(1.0, float(fraction)))
        except (TypeError, ValueError):
            return
        message = str(message or "")[:300]
        now = time.monotonic()
        if now - self.last_tick >= self.interval:
            self.last_tick = now
            services.publish_progress(self.job, fraction, message)
        if now - self.last_row >= DB_PROGRESS_INTERVAL_S:
            self.last_row = now
            updated = RenderJob.objects.filter(pk=self.job.pk, status=RenderStatus.RUNNING).update(
                progress=fraction, message=message, heartbeat_at=timezone.now())
            if not updated:
                self.canceled = True  # canceled (or failed by the reaper) while we worked
        self.job.progress, self.job.message = fraction, message

    def is_canceled(self) -> bool:
        if self.canceled:
            return True
        now = time.monotonic()
        if now - self.last_flag >= CANCEL_FLAG_INTERVAL_S:
            self.last_flag = now
            try:
                self.canceled = cancel_flag_set(self.job.pk)
            except redis.RedisError:
                pass
        if not self.canceled and now - self.last_check >= CANCEL_DB_INTERVAL_S:
            self.last_check = now
            self.canceled = RenderJob.objects.filter(pk=self.job.pk, status__in=TERMINAL_STATUSES).exists()
            if not self.canceled:
                RenderJob.objects.filter(pk=self.job.pk, status=RenderStatus.RUNNING).update(heartbeat_at=timezone.now())
        return self.canceled


def build_request(job: RenderJob, workdir: Path) -> RenderRequest:
    """The provider's view of the job: resolved params, key frame and reference images as local files."""
    params = job.params or {}
    assets = list(Asset.objects.filter(pk__in=params.get("reference_assets") or [], project_id=job.project_id)
                  .order_by("pk"))
    references = [storage.local_path(asset.image, workdir) for asset in assets]
    source = None
    if job.kind == RenderKind.VIDEO:
        if job.source_take_id:
            source = storage.local_path(job.source_take.media, workdir)
        elif params.get("source_take"):
            raise PermanentProviderError("The image take this video was to animate has been deleted.")
        elif references:
            source = references[0]
    return RenderRequest(
        kind=job.kind,
        prompt=params.get("prompt", ""),
        negative_prompt=params.get("negative_prompt", ""),
        seed=int(job.seed),
        width=int(params.get("width") or job.project.width),
        height=int(params.get("height") or job.project.height),
        duration_s=float(params.get("duration_s") or job.shot.duration_s),
        fps=int(params.get("fps") or job.project.fps),
        params=dict(params.get("provider_params") or {}),
        source_image=source,
        reference_images=references,
        job_key=f"studio-{job.batch.hex[:12] if job.batch else 'job'}-{job.pk}",
    )


def pick_output(files: list[OutputFile], kind: str) -> OutputFile:
    if not files:
        raise PermanentProviderError("The provider finished without returning a file.")
    wanted = "video/" if kind == RenderKind.VIDEO else "image/"
    return next((f for f in files if (f.content_type or "").startswith(wanted)), files[0])


def finish(job: RenderJob, result: RenderResult, workdir: Path) -> Take | None:
    """Probe the result, make thumbnail (and poster), store the files, write the take.

    Returns None (and removes the stored files) when the job may no longer have a take.
    """
    output = pick_output(result.files, job.kind)
    info = media.probe(output.path)
    if info.kind != job.kind:
        raise media.MediaError(f"The provider returned {'an' if info.kind == 'image' else 'a'} {info.kind} "
                               f"where {'an' if job.kind == 'image' else 'a'} {job.kind} was expected.")
    thumb, poster = workdir / "thumb.jpg", None
    if info.kind == RenderKind.IMAGE:
        media.make_thumbnail(output.path, thumb)
    else:
        poster = workdir / "poster.jpg"
        media.extract_poster(output.path, poster)
        media.make_thumbnail(poster, thumb)
    content_type = storage.content_type_for(output.path, output.content_type)
    stored: list[str] = []
    take = None
    try:
        stored.append(storage.store_take_file(job.project_id, output.path, storage.suffix_for(output.path, content_type)))
        stored.append(storage.store_take_file(job.project_id, thumb, ".jpg"))
        if poster is not None:
            stored.append(storage.store_take_file(job.project_id, poster, ".jpg"))
        fields = dict(
            kind=info.kind, media=stored[0], thumbnail=stored[1], poster=stored[2] if poster is not None else "",
            content_type=content_type, width=info.width, height=info.height,
            duration_s=info.duration_s if info.kind == RenderKind.VIDEO else None,
            fps=info.fps if info.kind == RenderKind.VIDEO else None, frame_count=info.frame_count,
            params={**(job.params or {}), "backend": result.params or {}},
            provider_job_id=str(result.provider_job_id or job.provider_job_id)[:200], cost=result.cost,
        )
        for attempt in range(3):
            try:
                take = services.record_take(job, **fields)
                break
            except OperationalError:  # a deadlock with a concurrent review of the same shot: try again
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
    finally:
        if take is None:
            storage.delete_quietly(stored)
    return take
