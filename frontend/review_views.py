"""Shot page, review player and compare: the pages render a shell plus boot data; ES modules do the rest.

Every lookup goes through the member's project (projects.permissions.membership_for), so a
non-member, or a shot/take id from another project, gets the same 404 page as a missing one.
"""
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from projects.models import Shot
from projects.permissions import membership_for
from projects.serializers import ProjectSerializer, ShotSerializer, UserSummarySerializer
from renders.models import Take
from renders.providers import PROVIDERS
from renders.serializers import TakeSerializer
from renders.services import enabled_providers

TAKE_RELATED = ("shot", "shot__sequence", "revision", "job", "reviewed_by", "created_by")


def _boot(request, membership, **extra) -> dict:
    """What every review page's scripts need before their first request."""
    project = membership.project
    return {
        "project": ProjectSerializer(project, context={"request": request, "memberships": {project.pk: membership}}).data,
        "me": UserSummarySerializer(request.user).data,
        "last_seq": project.last_event_seq,  # the socket catches up from here
        **extra,
    }


def _providers(project) -> list[dict]:
    """The back ends this project may render with (what the render form offers; the API checks again)."""
    return [
        {"name": name, "label": str(PROVIDERS[name].label), "kinds": sorted(PROVIDERS[name].kinds),
         "default": name == project.default_provider}
        for name in enabled_providers(project)
    ]


def _project_take(membership, take_id) -> Take:
    return get_object_or_404(Take.objects.filter(project=membership.project).select_related(*TAKE_RELATED), pk=take_id)


@login_required
@ensure_csrf_cookie  # the scripts send it back on every write
def shot_page(request, project_id, shot_id):
    membership = membership_for(request.user, project_id)
    shot = get_object_or_404(
        Shot.objects.filter(project=membership.project).select_related("sequence", "assignee", "current_take"), pk=shot_id
    )
    boot = _boot(request, membership, shot=ShotSerializer(shot, context={"project_id": project_id}).data,
                 providers=_providers(membership.project))
    return render(request, "frontend/shot.html", {
        "project": membership.project, "membership": membership, "shot": shot, "boot": boot,
    })


@login_required
@ensure_csrf_cookie  # the scripts send it back on every write
def review_page(request, project_id, take_id):
    membership = membership_for(request.user, project_id)
    take = _project_take(membership, take_id)
    boot = _boot(
        request, membership,
        take=TakeSerializer(take).data,
        shot=ShotSerializer(take.shot, context={"project_id": project_id}).data,
    )
    return render(request, "frontend/review.html", {
        "project": membership.project, "membership": membership, "shot": take.shot, "take": take, "boot": boot,
    })


@login_required
@ensure_csrf_cookie  # the scripts send it back on every write
def compare_page(request, project_id, take_a, take_b):
    membership = membership_for(request.user, project_id)
    a, b = _project_take(membership, take_a), _project_take(membership, take_b)
    boot = _boot(request, membership, takes=[TakeSerializer(a).data, TakeSerializer(b).data],
                 shots={str(t.shot_id): {"id": t.shot_id, "code": t.shot.code} for t in (a, b)})
    return render(request, "frontend/compare.html", {
        "project": membership.project, "membership": membership, "take_a": a, "take_b": b, "takes": [a, b], "boot": boot,
    })
