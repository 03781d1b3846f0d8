"""Shell pages: sign-in lives in urls.py (Django's LoginView); here the projects list, board,
members, activity, my work, notifications and the 404 page.

Project pages resolve the project through ``projects.permissions.membership_for`` and nothing
else, so a non-member (or a project id that does not exist) gets exactly the 404 page. Pages
render a frame and the data their scripts need first ("boot"); the scripts then talk to the same
REST API and socket that scripts outside the browser use.
"""
from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from projects import services
from projects.models import Membership, Project, Role, Shot, ShotStatus
from projects.permissions import Action, can, capabilities, membership_for
from projects.serializers import ProjectSerializer, UserSummarySerializer

#: How many shot thumbnails a project card shows.
COVER_SHOTS = 3


class ProjectForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the project a name."))
        return name


def _count(queryset) -> Subquery:
    """A correlated COUNT that does not multiply rows (safe next to other annotations)."""
    counts = queryset.order_by().values("project").annotate(n=Count("pk")).values("n")
    return Subquery(counts, output_field=IntegerField())


def project_cards(user) -> list[Project]:
    """The user's projects with their role, counts and up to three cover thumbnails, in a
    constant number of queries however many projects and shots there are."""
    shots = Shot.objects.filter(project=OuterRef("pk"))
    projects = list(
        Project.objects.for_user(user)
        .annotate(
            shot_count=_count(shots),
            approved_count=_count(shots.filter(status=ShotStatus.APPROVED)),
            member_count=_count(Membership.objects.filter(project=OuterRef("pk"))),
        )
        .order_by("name", "id")
    )
    roles = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
    covers = (
        Shot.objects.filter(project__in=[p.pk for p in projects], current_take__isnull=False)
        .select_related("current_take")
        .annotate(rank=Window(RowNumber(), partition_by=F("project_id"),
                              order_by=[F("sequence__order").asc(nulls_last=True), F("order").asc(), F("id").asc()]))
        .filter(rank__lte=COVER_SHOTS)
    )
    by_project: dict[int, list[str]] = {}
    for shot in covers:
        field = shot.current_take.thumbnail or shot.current_take.poster
        if field:
            by_project.setdefault(shot.project_id, []).append(field.url)
    for project in projects:
        project.role = roles.get(project.pk)
        project.role_label = Role(project.role).label if project.role else ""
        project.covers = by_project.get(project.pk, [])
        project.approved_ratio = (project.approved_count or 0) / project.shot_count if project.shot_count else 0
    return projects


@login_required
def project_list(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = services.create_project(request.user, **form.cleaned_data)
        return redirect("board-page", project_id=project.pk)
    return render(request, "frontend/project_list.html", {
        "projects": project_cards(request.user),
        "form": form,
        "nav": "projects",
    }, status=400 if form.errors else 200)


def _project_boot(request, membership) -> dict:
    project = membership.project
    return {
        "project": ProjectSerializer(
            project, context={"request": request, "memberships": {project.pk: membership}}).data,
        "me": UserSummarySerializer(request.user).data,
        "role": membership.role,
        "capabilities": capabilities(membership),
        "last_seq": project.last_event_seq,
    }


def _project_page(request, project_id, template, nav, **extra):
    membership = membership_for(request.user, project_id)
    return render(request, template, {
        "project": membership.project,
        "membership": membership,
        "boot": _project_boot(request, membership),
        "nav": nav,
        **extra,
    })


@login_required
def board(request, project_id):
    return _project_page(request, project_id, "frontend/board.html", "board", statuses=ShotStatus.choices)


@login_required
def members(request, project_id):
    membership = membership_for(request.user, project_id)
    return render(request, "frontend/members.html", {
        "project": membership.project,
        "membership": membership,
        "boot": {
            **_project_boot(request, membership),
            "roles": [{"value": value, "label": str(label)} for value, label in Role.choices],
        },
        "nav": "members",
        "can_manage": can(membership, Action.MANAGE_MEMBERS),
        "roles": Role.choices,
    })


@login_required
def activity(request, project_id):
    return _project_page(request, project_id, "frontend/activity.html", "activity")


@login_required
def my_work(request):
    return render(request, "frontend/my_work.html", {
        "nav": "my-work",
        "boot": {"me": UserSummarySerializer(request.user).data, "statuses": [s for s, _label in ShotStatus.choices]},
    })


@login_required
def notifications(request):
    return render(request, "frontend/notifications.html", {"nav": "notifications"})


def page_not_found(request, exception=None):
    """handler404: the same calm page for a missing object, a broken link and a non-member;
    under /api/ the same JSON ``detail`` as every other API error."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "frontend/404.html", status=404)
