"""State changes of takes and render jobs. Every one writes its Event (projects.events).

Render jobs change state in exactly one place, ``set_job_state``: it writes the row, records the
``render.state`` event (published once committed) and, when the last job of a request ends,
notifies whoever asked for it. Progress ticks are not state: ``publish_progress`` sends them
without a row.
"""
import hashlib
import logging
import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from projects.events import publish_ephemeral, record_event
from projects.exceptions import Conflict
from projects.models import Membership, Notification, Project, PromptRevision, Shot, ShotStatus
from projects.permissions import Action, can, require
from projects.services import bump_shot, notify

from .models import ACTIVE_STATUSES, TERMINAL_STATUSES, RenderJob, RenderKind, RenderStatus, ReviewStatus, Take

log = logging.getLogger(__name__)

DECISIONS = {
    "approve": ReviewStatus.APPROVED,
    "changes": ReviewStatus.CHANGES,
    "reject": ReviewStatus.REJECTED,
}


def take_payload(take: Take) -> dict:
    return {
        "take": take.pk,
        "shot": take.shot_id,
        "job": take.job_id,
        "number": take.number,
        "kind": take.kind,
        "review_status": take.review_status,
        "thumbnail_url": (take.thumbnail or take.poster).url if (take.thumbnail or take.poster) else None,
    }


def check_review(membership: Membership, decision: str) -> None:
    if decision not in DECISIONS:
        raise ValidationError({"decision": ["Decision must be approve, changes or reject."]})
    require(membership, Action.APPROVE if decision == "approve" else Action.REVIEW)


@transaction.atomic
def review_take(membership: Membership, take: Take, decision: str, note: str = "") -> Take:
    """Record a review decision; approving also makes the take the shot's current one.

    Asking for changes moves the shot to "changes", except that an approved shot is
    reopened only by someone who may approve (as with the status itself). The shot is
    locked before the take, in the order every other shot writer takes them.
    """
    check_review(membership, decision)
    shot = Shot.objects.select_for_update().get(pk=take.shot_id)
    take = Take.objects.select_for_update().get(pk=take.pk)
    take.review_status = DECISIONS[decision]
    take.review_note = note
    take.reviewed_by = membership.user
    take.reviewed_at = timezone.now()
    take.save(update_fields=["review_status", "review_note", "reviewed_by", "reviewed_at"])
    record_event(take.project_id, "take.reviewed", membership.user, {**take_payload(take), "decision": decision, "note": note[:200]})
    if decision == "approve":
        bump_shot(shot, membership.user, {"status": ShotStatus.APPROVED, "current_take": take})
    elif decision == "changes" and shot.status != ShotStatus.CHANGES and (
            shot.status != ShotStatus.APPROVED or can(membership, Action.APPROVE)):
        bump_shot(shot, membership.user, {"status": ShotStatus.CHANGES})
    if take.created_by_id and take.created_by_id != membership.user_id:
        verb = {"approve": "approved", "changes": "asked for changes on", "reject": "rejected"}[decision]
        notify(take.created_by, take.project_id, Notification.Kind.REVIEWED, membership.user,
               f"{membership.user.username} {verb} {shot.code} take {take.number}", shot=shot,
               data={"take": take.pk, "decision": decision})
    return take


@transaction.atomic
def set_current_take(membership: Membership, shot: Shot, take_id: int) -> Shot:
    """Pick the take that represents the shot; on an approved shot that is the approver's call."""
    require(membership, Action.EDIT_PROMPT)
    take = Take.objects.filter(pk=take_id, shot=shot).first()
    if take is None:
        raise ValidationError({"take": ["That take does not belong to this shot."]})
    shot = Shot.objects.select_for_update().get(pk=shot.pk)
    if shot.status == ShotStatus.APPROVED and shot.current_take_id != take.pk and not can(membership, Action.APPROVE):
        raise PermissionDenied("Only directors and owners can change the take of an approved shot.")
    if shot.current_take_id != take.pk:
        bump_shot(shot, membership.user, {"current_take": take})
    return shot


# --- render jobs: requests ------------------------------------------------------------------

MAX_VARIANTS = 8
MAX_SEED = 2**32 - 1
#: Request params that override what the project and the shot say (checked here; anything
#: else is passed to the provider as is and checked by it).
SIZE_RANGE = (16, 4096)
FPS_RANGE = (1, 120)
DURATION_RANGE = (0.1, 600.0)
MAX_PARAMS_BYTES = 16 * 1024


def provider_config(project: Project, name: str) -> dict:
    """Operator defaults overlaid with the project's own settings for ``name`` (no secrets: only env names)."""
    return {**settings.RENDER_PROVIDER_DEFAULTS.get(name, {}), **((project.provider_settings or {}).get(name) or {})}


def enabled_providers(project: Project) -> list[str]:
    from .providers import PROVIDERS

    names = set(settings.RENDER_PROVIDER_DEFAULTS) | set(project.provider_settings or {})
    return sorted(name for name in names if name in PROVIDERS)


def check_provider(project: Project, name: str, kind: str) -> None:
    """400 unless ``name`` is a known provider, enabled for the project, that can make ``kind``."""
    from .providers import PROVIDERS

    if kind not in RenderKind.values:
        raise ValidationError({"kind": ["Kind must be image or video."]})
    cls = PROVIDERS.get(name)
    if cls is None:
        raise ValidationError({"provider": [f"Unknown provider “{name}”. Available: {', '.join(sorted(PROVIDERS))}."]})
    if name not in enabled_providers(project):
        raise ValidationError({"provider": [
            f"{cls.label} is not enabled for this project; a director can enable it in the project settings."]})
    if kind not in cls.kinds:
        raise ValidationError({"kind": [f"{cls.label} cannot make {kind} renders; it makes {', '.join(sorted(cls.kinds))}."]})


def slot_for(name: str, config: dict) -> tuple[str, int]:
    """(limiter name, limit): one limit per provider credential, or per server when there is no key."""
    from .providers import provider_class

    cls = provider_class(name)
    credential = config.get("api_key_env") or (cls.secret_env[0] if cls.secret_env else "")
    if not credential:
        base_url = str(config.get("base_url") or "")
        credential = hashlib.sha256(base_url.encode()).hexdigest()[:12] if base_url else "default"
    try:
        limit = int(config.get("max_concurrency") or settings.RENDER_DEFAULT_MAX_CONCURRENCY)
    except (TypeError, ValueError):
        limit = settings.RENDER_DEFAULT_MAX_CONCURRENCY
    return f"{name}:{credential}", max(1, limit)


def variant_seeds(variants: int, seed: int | None) -> list[int]:
    """One seed per variant: ``seed``, ``seed+1``... when given (reproducible), else distinct random ones."""
    if seed is not None:
        return [(seed + i) % (MAX_SEED + 1) for i in range(variants)]
    seeds: list[int] = []
    while len(seeds) < variants:
        candidate = secrets.randbelow(MAX_SEED + 1)
        if candidate not in seeds:
            seeds.append(candidate)
    return seeds


def _number(params: dict, name: str, default, low, high, *, integer: bool, default_from: str):
    """``params[name]`` (popped) or ``default``, checked: 400 naming where a bad value came from."""
    given = name in params
    value = params.pop(name, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (not integer or float(value).is_integer())
    if not ok or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        where = name if given else f"{default_from} ({name})"
        raise ValidationError({"params": [f"{where} must be {kind} from {low:g} to {high:g}, not {value!r}."]})
    return int(value) if integer else float(value)


def resolve_params(shot: Shot, revision: PromptRevision, kind: str, request_params: dict | None) -> dict:
    """Everything the back end is told, resolved now and stored on the job (and later the take).

    Prompt = the revision's prompt with the revision's style presets appended; size from the
    project, fps from the project and duration from the shot (video), each overridable by the
    request's params; params layered preset < revision < request.
    """
    request_params = dict(request_params or {})
    for name in ("prompt", "negative_prompt"):
        if name in request_params:
            raise ValidationError({"params": [
                f"{name} comes from the shot's prompt revision; write a new revision to change it."]})
    presets = list(revision.presets.all().order_by("name", "id"))
    prompt = ", ".join(part.strip() for part in [revision.prompt, *(p.prompt for p in presets)] if part and part.strip())
    negative = ", ".join(
        part.strip() for part in [revision.negative_prompt, *(p.negative_prompt for p in presets)] if part and part.strip())
    merged: dict = {}
    for preset in presets:
        merged.update(preset.params or {})
    merged.update(revision.params or {})
    merged.update(request_params)
    for name in ("prompt", "negative_prompt"):
        merged.pop(name, None)  # presets or revision params cannot smuggle another prompt in
    project = shot.project
    resolved = {
        "prompt": prompt,
        "negative_prompt": negative,
        "width": _number(merged, "width", project.width, *SIZE_RANGE, integer=True, default_from="the project's size"),
        "height": _number(merged, "height", project.height, *SIZE_RANGE, integer=True,
                          default_from="the project's size"),
    }
    if kind == RenderKind.VIDEO:
        resolved["fps"] = _number(merged, "fps", project.fps, *FPS_RANGE, integer=True,
                                  default_from="the project's frame rate")
        resolved["duration_s"] = _number(merged, "duration_s", float(shot.duration_s), *DURATION_RANGE, integer=False,
                                         default_from=f"the duration of {shot.code}")
    else:
        merged.pop("fps", None)  # a still has neither
        merged.pop("duration_s", None)
    merged.pop("seed", None)  # seeds are per variant, on the job
    resolved.update(
        revision=revision.number,
        presets=[{"id": p.pk, "name": p.name} for p in presets],
        reference_assets=sorted(revision.assets.values_list("pk", flat=True)),
        provider_params=merged,
    )
    return resolved


def _resolve_revision(shot: Shot, revision_id: int | None) -> PromptRevision:
    revisions = PromptRevision.objects.filter(shot=shot)
    revision = revisions.filter(pk=revision_id).first() if revision_id is not None else revisions.order_by("-number").first()
    if revision is None:
        if revision_id is not None:
            raise ValidationError({"revision": ["That revision does not belong to this shot."]})
        raise ValidationError({"revision": [f"Shot {shot.code} has no prompt yet; write a prompt revision before rendering."]})
    return revision


def _resolve_source(shot: Shot, kind: str, source_take_id: int | None, revision: PromptRevision) -> Take | None:
    if kind != RenderKind.VIDEO:
        if source_take_id is not None:
            raise ValidationError({"source_take": ["A source take is only used for video renders."]})
        return None
    if source_take_id is None:
        if revision.assets.exists():
            return None  # the revision's first reference asset is the key frame
        raise ValidationError({"source_take": [
            f"Choose the image take to animate for {shot.code} (image-to-video needs a key frame)."]})
    take = Take.objects.filter(pk=source_take_id, project_id=shot.project_id).first()
    if take is None:
        raise ValidationError({"source_take": ["No such take in this project."]})
    if take.kind != RenderKind.IMAGE:
        raise ValidationError({"source_take": ["Only an image take can be animated; this one is a video."]})
    return take


def _check_params(params) -> dict:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValidationError({"params": ["params must be an object."]})
    from projects.events import to_json

    if len(to_json(params).encode()) > MAX_PARAMS_BYTES:
        raise ValidationError({"params": [f"params are too large (limit {MAX_PARAMS_BYTES // 1024} KB)."]})
    return params


def _check_size(count: int) -> None:
    if count > settings.RENDER_MAX_JOBS_PER_REQUEST:
        raise ValidationError({"variants": [
            f"That would start {count} renders; one request may start at most {settings.RENDER_MAX_JOBS_PER_REQUEST}."]})


def _plan(shot: Shot, revision: PromptRevision, source: Take | None, *, kind, variants, seed, params) -> list[dict]:
    resolved = resolve_params(shot, revision, kind, params)
    if source is not None:
        resolved["source_take"] = source.pk
    return [
        {"shot": shot, "revision": revision, "source_take": source, "seed": s, "variant": i, "params": resolved}
        for i, s in enumerate(variant_seeds(variants, seed))
    ]


def _check_counts(variants: int, seed: int | None) -> None:
    if isinstance(variants, bool) or not isinstance(variants, int) or not 1 <= variants <= MAX_VARIANTS:
        raise ValidationError({"variants": [f"variants must be from 1 to {MAX_VARIANTS}."]})
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise ValidationError({"seed": [f"seed must be a whole number from 0 to {MAX_SEED}."]})


def _create_jobs(membership: Membership, plans: list[dict], *, provider: str, kind: str, batch) -> list[RenderJob]:
    jobs = RenderJob.objects.bulk_create([
        RenderJob(
            project_id=membership.project_id, shot=plan["shot"], revision=plan["revision"],
            source_take=plan["source_take"], provider=provider, kind=kind, batch=batch, variant=plan["variant"],
            seed=plan["seed"], params=plan["params"], status=RenderStatus.QUEUED, message="Queued",
            created_by=membership.user,
        )
        for plan in plans
    ])
    if any(job.pk is None for job in jobs):  # bulk_create returns no ids on some backends
        jobs = list(RenderJob.objects.filter(batch=batch).order_by("shot_id", "variant", "id"))
    for job in jobs:
        _record_state(job, membership.user)
    enqueue([job.pk for job in jobs])
    return jobs


@transaction.atomic
def create_render_jobs(membership: Membership, shot: Shot, *, provider: str, kind: str, variants: int = 1,
                       seed: int | None = None, revision: int | None = None, source_take: int | None = None,
                       params: dict | None = None) -> list[RenderJob]:
    """One queued job per variant, each with its own seed; the task is queued once the rows commit."""
    require(membership, Action.RENDER)
    check_provider(membership.project, provider, kind)
    _check_counts(variants, seed)
    params = _check_params(params)
    _check_size(variants)
    resolved_revision = _resolve_revision(shot, revision)
    source = _resolve_source(shot, kind, source_take, resolved_revision)
    plans = _plan(shot, resolved_revision, source, kind=kind, variants=variants, seed=seed, params=params)
    return _create_jobs(membership, plans, provider=provider, kind=kind, batch=uuid.uuid4())


@transaction.atomic
def create_batch_render(membership: Membership, shots: list[Shot], *, provider: str, kind: str, variants: int = 1,
                        seed: int | None = None, params: dict | None = None) -> list[RenderJob]:
    """The same render for many shots, all or nothing: each shot's latest revision, and for video
    each shot's current take as the key frame. Any shot that cannot render → 400, nothing queued."""
    require(membership, Action.RENDER)
    check_provider(membership.project, provider, kind)
    _check_counts(variants, seed)
    params = _check_params(params)
    if not shots:
        raise ValidationError({"shots": ["Choose at least one shot."]})
    _check_size(len(shots) * variants)
    plans, problems = [], []
    for shot in shots:
        source = None
        if kind == RenderKind.VIDEO:
            current = shot.current_take
            if current is not None and current.kind == RenderKind.IMAGE:
                source = current
        try:
            revision = _resolve_revision(shot, None)
            if kind == RenderKind.VIDEO and source is None and not revision.assets.exists():
                raise ValidationError({"source_take": [f"{shot.code} has no current image take to animate."]})
            plans += _plan(shot, revision, source, kind=kind, variants=variants, seed=seed, params=params)
        except ValidationError as exc:
            problems.append(_first_error(exc.detail))
    if problems:
        raise ValidationError({"shots": problems[:20] + ([f"…and {len(problems) - 20} more."] if len(problems) > 20 else [])})
    return _create_jobs(membership, plans, provider=provider, kind=kind, batch=uuid.uuid4())


def _first_error(detail) -> str:
    if isinstance(detail, dict):
        return next((_first_error(v) for v in detail.values()), "")
    if isinstance(detail, list):
        return _first_error(detail[0]) if detail else ""
    return str(detail)


def enqueue(job_ids: list[int]) -> None:
    """Queue the task for each job once the surrounding transaction commits (the task gets only the id)."""
    ids = list(job_ids)

    def send():
        from .tasks import run_render_job

        for job_id in ids:
            try:
                run_render_job.apply_async(args=[job_id], queue=settings.RENDER_QUEUE)
            except Exception:  # noqa: BLE001 - the broker may be down; the reaper re-queues stuck jobs
                log.warning("could not queue render job %s; the reaper will queue it again", job_id, exc_info=True)

    transaction.on_commit(send)


@transaction.atomic
def cancel_job(membership: Membership, job: RenderJob) -> RenderJob:
    """Queued → canceled at once; running → canceled now, and its task stops at its next check."""
    require(membership, Action.RENDER)
    job = RenderJob.objects.select_for_update().get(pk=job.pk)
    if job.status == RenderStatus.CANCELED:
        return job
    if job.status in TERMINAL_STATUSES:
        raise Conflict(f"This render already {job.status}; there is nothing to cancel.", {"status": job.status})
    set_job_state(job, RenderStatus.CANCELED, actor=membership.user,
                  message=f"Canceled by {membership.user.username}")
    from .limits import set_cancel_flag

    job_id = job.pk
    transaction.on_commit(lambda: set_cancel_flag(job_id))
    return job


@transaction.atomic
def retry_job(membership: Membership, job: RenderJob) -> RenderJob:
    """A new job with the same inputs (seed included) for a failed or canceled one."""
    require(membership, Action.RENDER)
    if job.status not in (RenderStatus.FAILED, RenderStatus.CANCELED):
        raise Conflict("Only failed or canceled renders can be retried.", {"status": job.status})
    check_provider(membership.project, job.provider, job.kind)
    new = RenderJob.objects.create(
        project_id=job.project_id, shot_id=job.shot_id, revision_id=job.revision_id, source_take_id=job.source_take_id,
        provider=job.provider, kind=job.kind, batch=uuid.uuid4(), variant=job.variant, seed=job.seed,
        params=job.params, status=RenderStatus.QUEUED, message="Queued", created_by=membership.user,
    )
    _record_state(new, membership.user, retry_of=job.pk)
    enqueue([new.pk])
    return new


# --- render jobs: state ----------------------------------------------------------------------


def job_payload(job: RenderJob, take: Take | None = None) -> dict:
    return {
        "job": job.pk,
        "shot": job.shot_id,
        "status": job.status,
        "progress": round(float(job.progress or 0), 4),
        "message": job.message,
        "error": job.error,
        "kind": job.kind,
        "provider": job.provider,
        "batch": str(job.batch) if job.batch else None,
        "variant": job.variant,
        "take": take.pk if take is not None else None,
    }


#: Which state a job may move to from which (terminal states are final).
TRANSITIONS = {
    RenderStatus.QUEUED: {RenderStatus.QUEUED, RenderStatus.RUNNING, RenderStatus.FAILED, RenderStatus.CANCELED},
    RenderStatus.RUNNING: {RenderStatus.QUEUED, RenderStatus.RUNNING, RenderStatus.SUCCEEDED, RenderStatus.FAILED,
                           RenderStatus.CANCELED},
}


def set_job_state(job: RenderJob, status: str, *, actor=None, message: str | None = None, error: str | None = None,
                  progress: float | None = None, take: Take | None = None, **fields) -> bool:
    """Move ``job`` to ``status``: the row, its ``render.state`` event and, when the request's last job
    ends, the creator's notification — in one transaction.

    Returns False and changes nothing when the job is already terminal (a canceled job stays canceled
    whatever a late worker reports). ``job`` is refreshed with what was written.
    """
    with transaction.atomic():
        current = RenderJob.objects.select_for_update().get(pk=job.pk)
        if status not in TRANSITIONS.get(current.status, ()):
            _copy_into(job, current)
            return False
        changed = current.status != status
        now = timezone.now()
        current.status = status
        if message is not None:
            current.message = message[:300]
        if error is not None:
            current.error = error
        if progress is not None:
            current.progress = max(0.0, min(1.0, float(progress)))
        if status == RenderStatus.RUNNING and current.started_at is None:
            current.started_at = now
        if status in TERMINAL_STATUSES:
            current.finished_at = now
        current.heartbeat_at = now
        for name, value in fields.items():
            setattr(current, name, value)
        current.save()
        if changed or message is not None or error is not None:
            _record_state(current, actor, take)
        if status in TERMINAL_STATUSES:
            _notify_when_request_done(current)
    _copy_into(job, current)
    return True


def _record_state(job: RenderJob, actor=None, take: Take | None = None, **extra) -> None:
    """The ``render.state`` event: written with the change, published once it commits."""
    record_event(job.project_id, "render.state", actor, {**job_payload(job, take), **extra})


def _copy_into(target: RenderJob, source: RenderJob) -> None:
    for field in RenderJob._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _notify_when_request_done(job: RenderJob) -> None:
    """One notification per request (its batch), when its last job ends.

    Runs after record_event in the same transaction: that holds the project's event row lock,
    so two jobs finishing at once are serialised and exactly one of them sees the batch done.
    """
    if job.created_by_id is None:
        return
    jobs = RenderJob.objects.filter(batch=job.batch) if job.batch else RenderJob.objects.filter(pk=job.pk)
    if jobs.filter(status__in=ACTIVE_STATUSES).exists():
        return
    counts = dict(jobs.order_by().values_list("status").annotate(n=Count("pk")))
    succeeded, failed = counts.get(RenderStatus.SUCCEEDED, 0), counts.get(RenderStatus.FAILED, 0)
    if not succeeded and not failed:
        return  # everything was canceled: whoever canceled knows
    shot_ids = set(jobs.values_list("shot_id", flat=True))
    shot = Shot.objects.get(pk=job.shot_id) if len(shot_ids) == 1 else None
    what = f"{shot.code}" if shot else f"{len(shot_ids)} shots"
    kind_word = "video" if job.kind == RenderKind.VIDEO else "image"
    text = f"{what}: {succeeded} {kind_word} take{'s' if succeeded != 1 else ''} ready"
    if failed:
        error = jobs.filter(status=RenderStatus.FAILED).exclude(error="").values_list("error", flat=True).first() or ""
        text += f", {failed} failed" + (f": {error}" if error else "")
    takes = list(Take.objects.filter(job__in=jobs).order_by("number").values_list("pk", flat=True)[:20])
    notify(job.created_by, job.project_id,
           Notification.Kind.RENDER_FAILED if failed else Notification.Kind.RENDER_SUCCEEDED,
           None, text[:500], shot=shot,
           data={"batch": str(job.batch) if job.batch else None, "succeeded": succeeded, "failed": failed,
                 "takes": takes, "jobs": sorted(jobs.values_list("pk", flat=True))[:50]})


def publish_progress(job: RenderJob, progress: float, message: str) -> None:
    """A progress tick for the project's sockets: not stored, not an event (callers throttle)."""
    publish_ephemeral(job.project_id, "render.progress", {
        "job": job.pk, "shot": job.shot_id, "status": job.status, "progress": round(float(progress), 4),
        "message": message[:300], "batch": str(job.batch) if job.batch else None, "variant": job.variant,
    })


def record_take(job: RenderJob, *, kind: str, media: str, thumbnail: str, poster: str, content_type: str,
                width: int, height: int, duration_s: float | None, fps: float | None, frame_count: int | None,
                params: dict, provider_job_id: str, cost: Decimal | None) -> Take | None:
    """The take of a finished job, or None when the job may no longer have one.

    Files are already in storage (names given). The job row lock plus the one-to-one from take
    to job make a redelivered or duplicated task harmless: only the first to get here writes a
    take; the shot row lock numbers takes without a gap or duplicate.
    """
    with transaction.atomic():
        locked = RenderJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != RenderStatus.RUNNING or Take.objects.filter(job_id=job.pk).exists():
            _copy_into(job, locked)
            return None
        shot = Shot.objects.select_for_update().get(pk=locked.shot_id)
        number = (Take.objects.filter(shot=shot).aggregate(n=Max("number"))["n"] or 0) + 1
        take = Take.objects.create(
            project_id=locked.project_id, shot=shot, job=locked, revision_id=locked.revision_id,
            source_take_id=locked.source_take_id, number=number, kind=kind, media=media, thumbnail=thumbnail,
            poster=poster, content_type=content_type, width=width, height=height, duration_s=duration_s, fps=fps,
            frame_count=frame_count, seed=locked.seed, params=params, provider=locked.provider,
            provider_job_id=provider_job_id, cost=cost.quantize(Decimal("0.0001")) if cost is not None else None,
            created_by_id=locked.created_by_id,
        )
        set_job_state(locked, RenderStatus.SUCCEEDED, progress=1.0, message="Done", error="", take=take,
                      provider_job_id=provider_job_id or locked.provider_job_id)
        record_event(take.project_id, "take.created", None, take_payload(take))
        if shot.current_take_id is None:
            # The first take makes the board show something; review picks the real one later.
            bump_shot(shot, None, {"current_take": take})
    _copy_into(job, locked)
    return take
