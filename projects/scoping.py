"""Resolve the parent object of a route once, through membership (Sentry's convert_args idea).

Every view under a project, shot or take uses one of these mixins, so a non-member gets the
same 404 as for an object that does not exist.
"""
from django.shortcuts import get_object_or_404

from .models import Membership, Project, Shot
from .permissions import membership_for


class ScopedParentMixin:
    """Sets ``self.membership`` and ``self.project`` (and the parent object) before the handler runs."""

    parent_model = Project
    parent_kwarg = "project_id"
    parent_attr = "project"
    parent_select_related: tuple[str, ...] = ()

    membership: Membership
    project: Project

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.resolve_parent(request, kwargs)

    def resolve_parent(self, request, kwargs):
        if self.parent_model is Project:  # noqa: SIM114
            self.membership = membership_for(request.user, kwargs[self.parent_kwarg])
            self.project = self.membership.project
            return
        queryset = self.parent_model.objects.for_user(request.user).select_related(*self.parent_select_related)
        parent = get_object_or_404(queryset, pk=kwargs[self.parent_kwarg])
        self.membership = membership_for(request.user, parent.project_id)
        self.project = self.membership.project
        setattr(self, self.parent_attr, parent)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["project_id"] = self.project.pk if hasattr(self, "project") else None
        return context


class ShotChildMixin(ScopedParentMixin):
    parent_model = Shot
    parent_kwarg = "shot_id"
    parent_attr = "shot"
    shot: Shot

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "shot"):
            context["shot"] = self.shot
        return context


class TakeChildMixin(ScopedParentMixin):
    parent_attr = "take"
    parent_kwarg = "take_id"
    parent_select_related = ("shot",)

    @property
    def parent_model(self):
        from renders.models import Take

        return Take

    def resolve_parent(self, request, kwargs):
        super().resolve_parent(request, kwargs)
        self.shot = self.take.shot

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "shot"):
            context["shot"] = self.shot
        return context
