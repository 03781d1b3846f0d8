"""State changes of takes and render jobs. Every one writes its Event (projects.events)."""
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from projects.events import record_event
from projects.models import Membership, Notification, Shot, ShotStatus
from projects.permissions import Action, require
from projects.services import bump_shot, notify

from .models import ReviewStatus, Take

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
    """Record a review decision; approving also makes the take the shot's current one."""
    check_review(membership, decision)
    take = Take.objects.select_for_update().select_related("shot").get(pk=take.pk)
    take.review_status = DECISIONS[decision]
    take.review_note = note
    take.reviewed_by = membership.user
    take.reviewed_at = timezone.now()
    take.save(update_fields=["review_status", "review_note", "reviewed_by", "reviewed_at"])
    record_event(take.project_id, "take.reviewed", membership.user, {**take_payload(take), "decision": decision, "note": note[:200]})
    shot = Shot.objects.select_for_update().get(pk=take.shot_id)
    if decision == "approve":
        bump_shot(shot, membership.user, {"status": ShotStatus.APPROVED, "current_take": take})
    elif shot.status != ShotStatus.CHANGES and decision == "changes":
        bump_shot(shot, membership.user, {"status": ShotStatus.CHANGES})
    if take.created_by_id and take.created_by_id != membership.user_id:
        verb = {"approve": "approved", "changes": "asked for changes on", "reject": "rejected"}[decision]
        notify(take.created_by, take.project_id, Notification.Kind.REVIEWED, membership.user,
               f"{membership.user.username} {verb} {shot.code} take {take.number}", shot=shot,
               data={"take": take.pk, "decision": decision})
    return take


@transaction.atomic
def set_current_take(membership: Membership, shot: Shot, take_id: int) -> Shot:
    require(membership, Action.EDIT_PROMPT)
    take = Take.objects.filter(pk=take_id, shot=shot).first()
    if take is None:
        raise ValidationError({"take": ["That take does not belong to this shot."]})
    shot = Shot.objects.select_for_update().get(pk=shot.pk)
    if shot.current_take_id != take.pk:
        bump_shot(shot, membership.user, {"current_take": take})
    return shot
