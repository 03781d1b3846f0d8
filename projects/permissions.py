"""The one permission scope: membership of a project, and what each role may do.

guest: read + comment; reviewer: + review decisions; artist: + prompt revisions and renders on
any shot, and the status of shots assigned to them; director/owner: + members, assignment,
approval, shot planning, settings; only the owner deletes the project.
"""
from enum import StrEnum

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied

from .models import ROLE_RANK, Membership, Role


class Action(StrEnum):
    VIEW = "view"
    COMMENT = "comment"
    REVIEW = "review"
    EDIT_PROMPT = "edit_prompt"
    RENDER = "render"
    APPROVE = "approve"
    PLAN_SHOTS = "plan_shots"  # create/edit sequences and shots (presets and assets: EDIT_PROMPT)
    ASSIGN = "assign"
    MANAGE_MEMBERS = "manage_members"
    CHANGE_SETTINGS = "change_settings"
    DELETE_PROJECT = "delete_project"


MIN_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.GUEST,
    Action.COMMENT: Role.GUEST,
    Action.REVIEW: Role.REVIEWER,
    Action.EDIT_PROMPT: Role.ARTIST,
    Action.RENDER: Role.ARTIST,
    Action.APPROVE: Role.DIRECTOR,
    Action.PLAN_SHOTS: Role.DIRECTOR,
    Action.ASSIGN: Role.DIRECTOR,
    Action.MANAGE_MEMBERS: Role.DIRECTOR,
    Action.CHANGE_SETTINGS: Role.DIRECTOR,
    Action.DELETE_PROJECT: Role.OWNER,
}

DENIED_MESSAGES: dict[Action, str] = {
    Action.COMMENT: _("Your role cannot comment in this project."),
    Action.REVIEW: _("Only reviewers, directors and owners can review takes."),
    Action.EDIT_PROMPT: _("Only artists, directors and owners can write prompt revisions."),
    Action.RENDER: _("Only artists, directors and owners can start renders."),
    Action.APPROVE: _("Only directors and owners can approve."),
    Action.PLAN_SHOTS: _("Only directors and owners can change the shot plan."),
    Action.ASSIGN: _("Only directors and owners can assign shots."),
    Action.MANAGE_MEMBERS: _("Only directors and owners can manage members."),
    Action.CHANGE_SETTINGS: _("Only directors and owners can change project settings."),
    Action.DELETE_PROJECT: _("Only the owner can delete the project."),
}


def can(membership: Membership | None, action: Action) -> bool:
    if membership is None:
        return False
    return ROLE_RANK[Role(membership.role)] >= ROLE_RANK[MIN_ROLE[action]]


def require(membership: Membership | None, action: Action) -> None:
    """Raise 403 with a readable reason when the member's role does not allow ``action``."""
    if not can(membership, action):
        raise PermissionDenied(DENIED_MESSAGES.get(action, _("You do not have permission to do this.")))


def membership_for(user, project_id) -> Membership:
    """The user's membership of the project, or 404: outside the scope looks like missing."""
    if not user or not user.is_authenticated:
        raise Http404
    membership = (
        Membership.objects.select_related("project", "user").filter(project_id=project_id, user=user).first()
    )
    if membership is None:
        raise Http404
    return membership


def capabilities(membership: Membership | None) -> list[str]:
    """What the UI may offer this member (the server checks again on every write)."""
    return [action.value for action in Action if can(membership, action)]
