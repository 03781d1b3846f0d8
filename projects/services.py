"""State changes of the projects domain, each with its check and its event.

Views, tasks and consumers call these; none of them holds domain logic. Every write runs
in one transaction together with its Event row (projects.events.record_event), so what
the sockets publish is always committed.
"""
import re

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework.exceptions import PermissionDenied, ValidationError

from .events import publish_to_user, record_event
from .exceptions import Conflict
from .models import (
    Asset,
    Comment,
    Membership,
    Notification,
    Project,
    PromptRevision,
    Role,
    Sequence,
    Shot,
    ShotStatus,
    StylePreset,
)
from .permissions import Action, can, require

User = get_user_model()

# --- projects and members -----------------------------------------------------------


def create_unique(model, field: str, message: str, **values):
    """Create a row under a unique constraint; a writer that raced us past the serializer's
    check gets the same readable 400, not a 500 (a savepoint keeps the transaction usable)."""
    try:
        with transaction.atomic():
            return model.objects.create(**values)
    except IntegrityError:
        raise ValidationError({field: [message]}) from None



@transaction.atomic
def create_project(user, **fields) -> Project:
    project = Project.objects.create(created_by=user, **fields)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    record_event(project, "project.created", user, {"name": project.name})
    return project


@transaction.atomic
def update_project(membership: Membership, **fields) -> Project:
    require(membership, Action.CHANGE_SETTINGS)
    project = Project.objects.select_for_update().get(pk=membership.project_id)
    for name, value in fields.items():
        setattr(project, name, value)
    project.save()
    record_event(project, "project.updated", membership.user, {"fields": sorted(fields)})
    return project


@transaction.atomic
def delete_project(membership: Membership) -> None:
    """Delete the project with everything in it, then its stored files once committed.

    Takes and render jobs point at revisions with PROTECT (a revision in use must not
    vanish on its own), so they go first; a plain cascade from the project refuses.
    """
    from renders.models import RenderJob, Take

    require(membership, Action.DELETE_PROJECT)
    project_id = membership.project_id
    Project.objects.select_for_update().filter(pk=project_id).exists()  # no writer slips in meanwhile
    Take.objects.filter(project_id=project_id).delete()
    RenderJob.objects.filter(project_id=project_id).delete()
    revisions = PromptRevision.objects.filter(shot__project_id=project_id)
    revisions.update(parent=None)  # the parent link is PROTECT too, even among rows deleted together
    revisions.delete()
    Project.objects.filter(pk=project_id).delete()
    transaction.on_commit(lambda: delete_stored_files(f"projects/{project_id}"))


def delete_stored_files(folder: str) -> None:
    """Best effort: remove every stored file under ``folder`` (local disk or S3)."""
    import logging

    from django.core.files.storage import default_storage

    try:
        dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    except OSError:
        logging.getLogger(__name__).warning("could not list %s for deletion", folder, exc_info=True)
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    for name in dirs:
        delete_stored_files(f"{folder}/{name}")


def _check_role_change(actor: Membership, role: str, target: Membership | None = None) -> None:
    require(actor, Action.MANAGE_MEMBERS)
    touches_owner = role == Role.OWNER or (target is not None and target.role == Role.OWNER)
    if touches_owner and actor.role != Role.OWNER:
        raise PermissionDenied("Only an owner can grant or change the owner role.")


def _ensure_an_owner_remains(target: Membership) -> None:
    if target.role == Role.OWNER:
        others = Membership.objects.filter(project_id=target.project_id, role=Role.OWNER).exclude(pk=target.pk)
        if not others.exists():
            raise ValidationError({"role": ["A project needs at least one owner."]})


def member_payload(membership: Membership) -> dict:
    return {"member": membership.pk, "user": membership.user_id, "username": membership.user.username, "role": membership.role}


@transaction.atomic
def add_member(actor: Membership, username: str, role: str) -> Membership:
    _check_role_change(actor, role)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": [f"No user named “{username}”."]})
    if Membership.objects.filter(project_id=actor.project_id, user=user).exists():
        raise ValidationError({"username": [f"{username} is already a member."]})
    membership = create_unique(Membership, "username", f"{username} is already a member.",
                               project_id=actor.project_id, user=user, role=role)
    record_event(actor.project_id, "member.added", actor.user, member_payload(membership))
    return membership


@transaction.atomic
def change_member_role(actor: Membership, target: Membership, role: str) -> Membership:
    _check_role_change(actor, role, target)
    if role != Role.OWNER:
        _ensure_an_owner_remains(target)
    target.role = role
    target.save(update_fields=["role"])
    record_event(actor.project_id, "member.updated", actor.user, member_payload(target))
    return target


@transaction.atomic
def remove_member(actor: Membership, target: Membership) -> None:
    """Remove (or leave); the member's shots are unassigned like any other shot change:
    their ``version`` moves on and each gets its ``shot.updated`` event, so open boards and
    editors holding the old version see it."""
    if target.user_id != actor.user_id:  # leaving a project needs no role
        _check_role_change(actor, target.role, target)
    _ensure_an_owner_remains(target)
    payload = member_payload(target)
    assigned = Shot.objects.select_for_update().filter(project_id=actor.project_id, assignee_id=target.user_id)
    for shot in assigned.order_by("pk"):
        bump_shot(shot, actor.user, {"assignee": None})
    target.delete()
    record_event(actor.project_id, "member.removed", actor.user, payload)


# --- sequences and shots ----------------------------------------------------------------


@transaction.atomic
def create_sequence(membership: Membership, **fields) -> Sequence:
    require(membership, Action.PLAN_SHOTS)
    sequence = create_unique(Sequence, "code", f"Sequence {fields.get('code')} already exists in this project.",
                             project_id=membership.project_id, **fields)
    record_event(membership.project_id, "sequence.created", membership.user, {"sequence": sequence.pk, "code": sequence.code})
    return sequence


@transaction.atomic
def update_sequence(membership: Membership, sequence: Sequence, **fields) -> Sequence:
    require(membership, Action.PLAN_SHOTS)
    for name, value in fields.items():
        setattr(sequence, name, value)
    sequence.save()
    record_event(membership.project_id, "sequence.updated", membership.user, {"sequence": sequence.pk, "fields": sorted(fields)})
    return sequence


def shot_payload(shot: Shot, fields=()) -> dict:
    return {
        "shot": shot.pk,
        "code": shot.code,
        "fields": sorted(fields),
        "status": shot.status,
        "assignee": shot.assignee_id,
        "current_take": shot.current_take_id,
        "order": shot.order,
        "sequence": shot.sequence_id,
        "version": shot.version,
    }


@transaction.atomic
def create_shot(membership: Membership, **fields) -> Shot:
    require(membership, Action.PLAN_SHOTS)
    if fields.get("assignee") is not None:
        check_assignable(membership.project_id, fields["assignee"])
    shot = create_unique(Shot, "code", f"Shot {fields.get('code')} already exists in this project.",
                         project_id=membership.project_id, **fields)
    record_event(membership.project_id, "shot.created", membership.user, shot_payload(shot, fields))
    if shot.assignee_id and shot.assignee_id != membership.user_id:
        notify_assignment(shot, membership.user)
    return shot


def check_assignable(project_id: int, user) -> None:
    if user is not None and not Membership.objects.filter(project_id=project_id, user=user).exists():
        raise ValidationError({"assignee": ["The assignee must be a member of the project."]})


def check_shot_update(membership: Membership, shot: Shot, changes: dict) -> None:
    """Who may change what on a shot (raises 403 / 400 with the reason).

    ``changes`` holds only the fields whose value really changes, so a form that sends
    every field back unchanged is judged by what it changes. Guests and reviewers may not
    write a shot at all; artists may move the status of shots assigned to them, but
    neither into nor out of "approved" (that is the director's decision).
    """
    if can(membership, Action.PLAN_SHOTS):
        if "assignee" in changes:
            check_assignable(shot.project_id, changes["assignee"])
        return
    if not can(membership, Action.EDIT_PROMPT):
        raise PermissionDenied("Your role cannot change shots.")
    if set(changes) - {"status"}:
        raise PermissionDenied("Only directors and owners can change the shot plan or assignment.")
    if "status" not in changes:
        return
    if shot.assignee_id != membership.user_id:
        raise PermissionDenied("You can change the status only of shots assigned to you.")
    if ShotStatus.APPROVED in (changes["status"], shot.status):
        raise PermissionDenied(gettext("Only directors and owners can approve a shot or reopen an approved one."))


@transaction.atomic
def update_shot(membership: Membership, shot_id: int, version: int | None, changes: dict, *, serialize=None) -> Shot:
    """Apply ``changes`` if ``version`` is still current; a stale one gets 409 with the current state."""
    shot = Shot.objects.select_for_update().get(pk=shot_id, project_id=membership.project_id)
    if version is None:
        raise ValidationError({"version": ["Send the version of the shot you edited."]})
    if version != shot.version:
        current = serialize(shot) if serialize else {"version": shot.version}
        raise Conflict(gettext("Someone changed this shot after you loaded it. Reload and apply your change again."),
                       current)
    changes = {name: value for name, value in changes.items() if getattr(shot, name) != value}
    check_shot_update(membership, shot, changes)
    if not changes:
        return shot
    old_assignee = shot.assignee_id
    for name, value in changes.items():
        setattr(shot, name, value)
    shot.version += 1
    shot.save()
    record_event(shot.project_id, "shot.updated", membership.user, shot_payload(shot, changes))
    if "assignee" in changes and shot.assignee_id and shot.assignee_id != old_assignee and shot.assignee_id != membership.user_id:
        notify_assignment(shot, membership.user)
    return shot


def bump_shot(shot: Shot, actor, fields: dict) -> Shot:
    """A server-side change to a shot (current take, status after review): same version + event rules."""
    for name, value in fields.items():
        setattr(shot, name, value)
    shot.version += 1
    shot.save()
    record_event(shot.project_id, "shot.updated", actor, shot_payload(shot, fields))
    return shot


# --- prompt revisions ---------------------------------------------------------------------


@transaction.atomic
def create_revision(membership: Membership, shot: Shot, *, prompt: str, base: PromptRevision | None = None,
                    negative_prompt: str = "", params: dict | None = None, assets=(), presets=(), note: str = "",
                    serialize=None) -> PromptRevision:
    """Write a new immutable revision on top of ``base``; if someone saved after ``base``, 409."""
    require(membership, Action.EDIT_PROMPT)
    shot = Shot.objects.select_for_update().get(pk=shot.pk)  # serialises writers of this shot
    latest = shot.revisions.order_by("-number").first()
    if (latest.pk if latest else None) != (base.pk if base else None):
        current = serialize(latest) if (serialize and latest) else None
        if latest is None:
            raise Conflict(gettext("This shot has no revision yet; send base null."), current)
        raise Conflict(
            gettext("%(author)s saved revision %(number)s after the one you edited. Your text was not saved; "
                    "merge it into the latest revision.")
            % {"author": latest.author.username if latest.author else gettext("Someone"), "number": latest.number},
            current,
        )
    for asset in assets:
        if asset.project_id != shot.project_id:
            raise ValidationError({"assets": ["Reference assets must belong to this project."]})
    for preset in presets:
        if preset.project_id != shot.project_id:
            raise ValidationError({"presets": ["Presets must belong to this project."]})
    revision = PromptRevision.objects.create(
        shot=shot,
        number=(latest.number + 1) if latest else 1,
        prompt=prompt,
        negative_prompt=negative_prompt,
        params=params or {},
        author=membership.user,
        note=note,
        parent=base,
    )
    revision.assets.set(assets)
    revision.presets.set(presets)
    record_event(shot.project_id, "revision.created", membership.user,
                 {"shot": shot.pk, "revision": revision.pk, "number": revision.number, "note": note})
    return revision


# --- assets and presets -----------------------------------------------------------------


@transaction.atomic
def create_asset(membership: Membership, *, image, **fields) -> Asset:
    """Store a reference image that already passed renders.media.validate_image_upload."""
    require(membership, Action.EDIT_PROMPT)
    asset = Asset(project_id=membership.project_id, uploaded_by=membership.user, **fields)
    asset.image.save(image.name, image, save=False)
    asset.save()
    record_event(membership.project_id, "asset.created", membership.user, {"asset": asset.pk, "name": asset.name, "kind": asset.kind})
    return asset


@transaction.atomic
def create_preset(membership: Membership, **fields) -> StylePreset:
    require(membership, Action.EDIT_PROMPT)
    preset = StylePreset.objects.create(project_id=membership.project_id, created_by=membership.user, **fields)
    record_event(membership.project_id, "preset.created", membership.user, {"preset": preset.pk, "name": preset.name})
    return preset


# --- comments, mentions, notifications ---------------------------------------------------

MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]+)", re.UNICODE)


def mentioned_members(project_id: int, body: str):
    names = {name.rstrip(".") for name in MENTION_RE.findall(body)}
    if not names:
        return User.objects.none()
    return User.objects.filter(username__in=names, memberships__project_id=project_id)


def comment_payload(comment: Comment) -> dict:
    return {
        "comment": comment.pk,
        "shot": comment.shot_id,
        "take": comment.take_id,
        "parent": comment.parent_id,
        "frame": comment.frame,
        "resolved": comment.resolved,
        "body": comment.body[:200],
    }


@transaction.atomic
def create_comment(membership: Membership, *, shot: Shot, take=None, body: str, frame: int | None = None,
                   annotation: dict | None = None, parent: Comment | None = None) -> Comment:
    require(membership, Action.COMMENT)
    if parent is not None and (parent.shot_id != shot.pk or parent.take_id != (take.pk if take else None)):
        raise ValidationError({"parent": ["A reply must be on the same take as the comment it answers."]})
    if frame is not None and take is not None and take.frame_count and frame >= take.frame_count:
        raise ValidationError({"frame": [f"Frame {frame} is past the end of this take ({take.frame_count} frames, first is 0)."]})
    comment = Comment.objects.create(
        project_id=shot.project_id, shot=shot, take=take, parent=parent, author=membership.user,
        body=body, frame=frame, annotation=annotation,
    )
    mentioned = list(mentioned_members(shot.project_id, body).exclude(pk=membership.user_id))
    comment.mentions.set(mentioned)
    record_event(shot.project_id, "comment.created", membership.user, comment_payload(comment))
    for user in mentioned:
        notify(user, shot.project_id, Notification.Kind.MENTIONED, membership.user,
               f"{membership.user.username} mentioned you on {shot.code}: {body[:120]}", shot=shot,
               data={"comment": comment.pk, "take": comment.take_id, "frame": frame})
    return comment


@transaction.atomic
def update_comment(membership: Membership, comment: Comment, *, body=None, resolved=None, annotation=None) -> Comment:
    require(membership, Action.COMMENT)
    comment = Comment.objects.select_for_update().get(pk=comment.pk)
    is_author = comment.author_id == membership.user_id
    if (body is not None or annotation is not None) and not is_author:
        raise PermissionDenied("Only the author can edit a comment.")
    event = "comment.updated"
    changed = False
    if body is not None and body != comment.body:
        comment.body = body
        changed = True
    if annotation is not None and annotation != comment.annotation:
        comment.annotation = annotation
        changed = True
    if resolved is not None and resolved != comment.resolved:
        if not (is_author or can(membership, Action.REVIEW)):
            raise PermissionDenied("Only the author or a reviewer can resolve a comment.")
        comment.resolved = resolved
        comment.resolved_by = membership.user if resolved else None
        event = "comment.resolved" if resolved else "comment.updated"
        changed = True
    if changed:  # a no-op PATCH writes nothing and tells nobody
        comment.save()
        record_event(comment.project_id, event, membership.user, comment_payload(comment))
    return comment


def notification_payload(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "project": notification.project_id,
        "shot": notification.shot_id,
        "text": notification.text,
        "data": notification.data,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def notify(user, project_id: int, kind: str, actor, text: str, *, shot=None, data=None) -> Notification:
    """Store a notification and push it to the user's sockets once committed."""
    notification = Notification.objects.create(
        user=user, project_id=project_id, kind=kind, actor=actor, shot=shot, text=text, data=data or {}
    )
    payload = notification_payload(notification)
    user_id = user.pk
    transaction.on_commit(lambda: publish_to_user(user_id, "notification", {
        **payload, "unread": Notification.objects.for_user_id(user_id).unread().count(),
    }))
    return notification


def notify_assignment(shot: Shot, actor) -> Notification:
    return notify(shot.assignee, shot.project_id, Notification.Kind.ASSIGNED, actor,
                  f"{actor.username if actor else 'Someone'} assigned {shot.code} to you", shot=shot,
                  data={"shot": shot.pk})


@transaction.atomic
def mark_notifications_read(user, ids=None) -> int:
    """Mark read, then tell the user's other open pages the new unread count."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    marked = qs.update(read_at=timezone.now())
    if marked:
        user_id = user.pk
        transaction.on_commit(lambda: publish_to_user(
            user_id, "notifications.read", {"unread": Notification.objects.for_user_id(user_id).unread().count()}))
    return marked


def my_work(user):
    """Shots assigned to ``user`` across projects, soonest due first (no date last)."""
    from django.db.models import F

    return (
        Shot.objects.for_user(user)
        .filter(assignee=user)
        .select_related("project", "sequence", "current_take", "assignee")
        .order_by(F("due_date").asc(nulls_last=True), "project_id", "order", "id")
    )
