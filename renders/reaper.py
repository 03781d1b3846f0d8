"""The periodic safety net: no job stays "running" after its worker vanished, none stays "queued"
because its message was lost.

Running job, heartbeat older than RENDER_HEARTBEAT_TIMEOUT_S and no live run lock in Redis (a
live worker renews it from a thread even while blocked in a long call): its worker is gone.
The first time that happens to a job it is queued again (one more chance, e.g. a worker killed
by a deploy); a job whose worker vanished after a retry already fails with "The worker stopped
responding" rather than taking down worker after worker. The broker may also redeliver the
original message later (acks_late); the pipeline makes that duplicate harmless.

Queued job nobody has looked at for RENDER_QUEUED_STUCK_S (its task waits for a slot or a
backoff refresh ``heartbeat_at``, so only a lost message gets this old): queued again.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import services
from .limits import RunLock
from .models import RenderJob, RenderStatus

log = logging.getLogger(__name__)

#: A job is queued again after a vanished worker only while it has used fewer attempts than this.
REQUEUE_BELOW_ATTEMPTS = 2


def reap(now=None) -> dict:
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.RENDER_HEARTBEAT_TIMEOUT_S)
    stuck = now - timedelta(seconds=settings.RENDER_QUEUED_STUCK_S)
    report = {"requeued": [], "failed": [], "resent": []}

    running = RenderJob.objects.filter(status=RenderStatus.RUNNING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale))
    for job_id in running.values_list("pk", flat=True):
        if RunLock.is_held(job_id):
            continue
        with transaction.atomic():
            job = RenderJob.objects.select_for_update(skip_locked=True).filter(
                pk=job_id, status=RenderStatus.RUNNING).first()
            if job is None or (job.heartbeat_at and job.heartbeat_at >= stale):
                continue
            if job.attempts < min(REQUEUE_BELOW_ATTEMPTS, settings.RENDER_MAX_ATTEMPTS):
                services.set_job_state(job, RenderStatus.QUEUED, progress=0.0,
                                       message="The worker stopped responding; queued again")
                services.enqueue([job.pk])
                report["requeued"].append(job.pk)
            else:
                services.set_job_state(job, RenderStatus.FAILED, message="Failed",
                                       error="The worker stopped responding.")
                report["failed"].append(job.pk)

    queued = RenderJob.objects.filter(status=RenderStatus.QUEUED).filter(
        Q(heartbeat_at__lt=stuck) | Q(heartbeat_at__isnull=True, created_at__lt=stuck))
    for job_id in queued.values_list("pk", flat=True):
        if RunLock.is_held(job_id):
            continue
        with transaction.atomic():
            updated = RenderJob.objects.filter(pk=job_id, status=RenderStatus.QUEUED).filter(
                Q(heartbeat_at__lt=stuck) | Q(heartbeat_at__isnull=True, created_at__lt=stuck)).update(heartbeat_at=now)
            if updated:
                services.enqueue([job_id])
                report["resent"].append(job_id)

    if any(report.values()):
        log.warning("reaper: %s", report)
    return report
