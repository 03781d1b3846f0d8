"""Celery tasks of the render pipeline. Thin: the work is in renders.pipeline and renders.services.

``run_render_job`` gets only a job id (the row is committed before the task is queued) and may
run any number of times for one job: acks_late + reject_on_worker_lost mean a worker that dies
mid-render leaves the message to be delivered again, and the pipeline makes that harmless.
Retries (waiting for a provider slot, backing off after a transient provider error) are
``self.retry`` with a countdown, never a sleep loop holding a worker.

``reap_render_jobs`` runs from Celery beat (CELERY_BEAT_SCHEDULE): it settles jobs whose worker
vanished and re-queues jobs whose message was lost.
"""
import logging

import redis
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import pipeline, reaper

log = logging.getLogger(__name__)

#: Retries after infrastructure errors (database or Redis unreachable) before the reaper takes over.
MAX_INFRA_RETRIES = 50


@shared_task(
    bind=True,
    name="renders.run_render_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by the job's own attempt budget (RENDER_MAX_ATTEMPTS), see pipeline
    time_limit=settings.RENDER_TASK_TIME_LIMIT_S,
    soft_time_limit=settings.RENDER_TASK_SOFT_TIME_LIMIT_S,
    ignore_result=True,
)
def run_render_job(self, job_id: int) -> str:
    try:
        outcome = pipeline.run_job(int(job_id), worker=self.request.hostname or "")
    except (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError) as exc:
        if self.request.retries >= MAX_INFRA_RETRIES:
            raise
        countdown = min(60.0, 2.0 ** min(self.request.retries, 6))
        log.warning("render job %s: %s; trying again in %.0f s", job_id, exc.__class__.__name__, countdown)
        raise self.retry(countdown=countdown, exc=exc, queue=settings.RENDER_QUEUE) from exc
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=settings.RENDER_QUEUE)
    return outcome.result


@shared_task(name="renders.reap_render_jobs", ignore_result=True, acks_late=False)
def reap_render_jobs() -> dict:
    return reaper.reap()
