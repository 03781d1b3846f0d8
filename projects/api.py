"""REST endpoints of the projects domain. Thin: resolve scope, validate, call services."""
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from studio.api import StudioPagination

from . import services
from .diff import revision_diff
from .models import Comment, Event, Membership, Notification, Project, PromptRevision, Shot, ShotStatus
from .permissions import Action, require
from .scoping import ScopedParentMixin, ShotChildMixin, TakeChildMixin
from .serializers import (
    AssetSerializer,
    BoardShotSerializer,
    CommentSerializer,
    CommentUpdateSerializer,
    EventSerializer,
    MemberCreateSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    NotificationReadSerializer,
    NotificationSerializer,
    ProjectSerializer,
    PromptRevisionSerializer,
    RevisionDiffSerializer,
    SequenceSerializer,
    ShotSerializer,
    ShotUpdateSerializer,
    StylePresetSerializer,
    WorkShotSerializer,
)


class ObtainToken(ObtainAuthToken):
    """``{"username","password"}`` → ``{"token"}``, throttled per client against guessing."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"


class ProjectViewSet(viewsets.ModelViewSet):
    serializer_class = ProjectSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Project.objects.for_user(self.request.user).order_by("name", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["memberships"] = {
            m.project_id: m for m in Membership.objects.filter(user=self.request.user)
        } if self.request.user.is_authenticated else {}
        return context

    def _membership(self, project):
        return Membership.objects.select_related("user").get(project=project, user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.create_project(self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_project(self._membership(serializer.instance), **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_project(self._membership(instance))


# --- members --------------------------------------------------------------------------


class MemberList(ScopedParentMixin, generics.ListCreateAPIView):
    serializer_class = MembershipSerializer

    def get_queryset(self):
        return Membership.objects.filter(project=self.project).select_related("user").order_by("id")

    @extend_schema(request=MemberCreateSerializer, responses={201: MembershipSerializer})
    def post(self, request, *args, **kwargs):
        require(self.membership, Action.MANAGE_MEMBERS)  # 403 before any 400
        data = MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.add_member(self.membership, **data.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetail(ScopedParentMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = MembershipSerializer
    lookup_url_kwarg = "member_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Membership.objects.filter(project=self.project).select_related("user")

    @extend_schema(request=MemberUpdateSerializer, responses=MembershipSerializer)
    def patch(self, request, *args, **kwargs):
        target = self.get_object()
        data = MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.change_member_role(self.membership, target, data.validated_data["role"])
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, instance):
        services.remove_member(self.membership, instance)


# --- sequences and shots ------------------------------------------------------------------


class SequenceList(ScopedParentMixin, generics.ListCreateAPIView):
    serializer_class = SequenceSerializer

    def get_queryset(self):
        return self.project.sequences.annotate(shot_count=Count("shots")).order_by("order", "code", "id")

    def create(self, request, *args, **kwargs):
        require(self.membership, Action.PLAN_SHOTS)  # 403 before any 400
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.create_sequence(self.membership, **serializer.validated_data)


class SequenceDetail(ScopedParentMixin, generics.RetrieveUpdateAPIView):
    serializer_class = SequenceSerializer
    lookup_url_kwarg = "sequence_id"
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return self.project.sequences.annotate(shot_count=Count("shots"))

    def perform_update(self, serializer):
        serializer.instance = services.update_sequence(self.membership, serializer.instance, **serializer.validated_data)


def int_param(request, name):
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({name: [f"{name} must be an integer."]}) from None


def filter_shots(queryset, request):
    """?status=&assignee=&sequence= (assignee may be "me" or "none")."""
    status_value = request.query_params.get("status")
    if status_value:
        wanted = status_value.split(",")
        unknown = [s for s in wanted if s not in ShotStatus.values]
        if unknown:
            raise ValidationError({"status": [f"Unknown status {', '.join(unknown)}; use one of {', '.join(ShotStatus.values)}."]})
        queryset = queryset.filter(status__in=wanted)
    assignee = request.query_params.get("assignee")
    if assignee == "me":
        queryset = queryset.filter(assignee=request.user)
    elif assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee:
        queryset = queryset.filter(assignee_id=int_param(request, "assignee"))
    sequence = int_param(request, "sequence")
    if sequence is not None:
        queryset = queryset.filter(sequence_id=sequence)
    return queryset


SHOT_FILTER_PARAMETERS = [
    OpenApiParameter("status", str, description="Comma-separated statuses"),
    OpenApiParameter("assignee", str, description="User id, `me` or `none`"),
    OpenApiParameter("sequence", int),
]


@extend_schema(parameters=SHOT_FILTER_PARAMETERS)
class ShotList(ScopedParentMixin, generics.ListCreateAPIView):
    serializer_class = ShotSerializer

    def get_queryset(self):
        queryset = self.project.shots.select_related("sequence").order_by("sequence__order", "order", "code", "id")
        return filter_shots(queryset, self.request)

    def create(self, request, *args, **kwargs):
        require(self.membership, Action.PLAN_SHOTS)  # 403 before any 400
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.create_shot(self.membership, **serializer.validated_data)


def board_queryset(project):
    """Every shot with what the board shows, in a constant number of queries."""
    from renders.models import RenderJob, Take

    latest = PromptRevision.objects.filter(shot=OuterRef("pk")).order_by("-number")
    comment_count = Comment.objects.filter(shot=OuterRef("pk")).order_by().values("shot").annotate(n=Count("pk")).values("n")
    take_count = Take.objects.filter(shot=OuterRef("pk")).order_by().values("shot").annotate(n=Count("pk")).values("n")
    return (
        project.shots.select_related("sequence", "assignee", "current_take")
        .annotate(
            latest_revision_id=Subquery(latest.values("pk")[:1]),
            latest_revision_number=Subquery(latest.values("number")[:1]),
            latest_revision_prompt=Subquery(latest.values("prompt")[:1]),
            comment_count=Subquery(comment_count, output_field=IntegerField()),
            take_count=Subquery(take_count, output_field=IntegerField()),
        )
        .prefetch_related(Prefetch("render_jobs", queryset=RenderJob.objects.active().order_by("id"), to_attr="active_renders"))
        .order_by("sequence__order", "sequence__code", "order", "code", "id")
    )


class Board(ScopedParentMixin, APIView):
    @extend_schema(parameters=SHOT_FILTER_PARAMETERS, responses=BoardShotSerializer(many=True))
    def get(self, request, project_id):
        shots = filter_shots(board_queryset(self.project), request)
        sequences = self.project.sequences.order_by("order", "code", "id")
        data = BoardShotSerializer(shots, many=True, context={"request": request}).data
        for row in data:
            row["comment_count"] = row["comment_count"] or 0
            row["take_count"] = row["take_count"] or 0
        return Response({
            "project": ProjectSerializer(self.project, context={"request": request, "memberships": {self.project.pk: self.membership}}).data,
            "sequences": SequenceSerializer(sequences, many=True).data,
            "shots": data,
            "last_seq": self.project.last_event_seq,
        })


class ShotDetail(ShotChildMixin, generics.GenericAPIView):
    """One shot; the scope mixin has already resolved it and the caller's membership."""

    http_method_names = ["get", "patch", "head", "options"]
    parent_select_related = ("sequence",)

    def get_serializer_class(self):
        return ShotUpdateSerializer if self.request.method == "PATCH" else ShotSerializer

    @extend_schema(responses=ShotSerializer)
    def get(self, request, shot_id):
        return Response(ShotSerializer(self.shot).data)

    @extend_schema(request=ShotUpdateSerializer, responses={200: ShotSerializer, 409: None})
    def patch(self, request, shot_id):
        serializer = self.get_serializer(self.shot, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        version = changes.pop("version", None)
        shot = services.update_shot(self.membership, self.shot.pk, version, changes,
                                    serialize=lambda s: ShotSerializer(s).data)
        return Response(ShotSerializer(shot).data)


# --- prompt revisions ----------------------------------------------------------------------


class RevisionList(ShotChildMixin, generics.ListCreateAPIView):
    serializer_class = PromptRevisionSerializer

    def get_queryset(self):
        return (self.shot.revisions.select_related("author").prefetch_related("assets", "presets").order_by("-number"))

    @extend_schema(responses={201: PromptRevisionSerializer, 409: None})
    def post(self, request, *args, **kwargs):
        require(self.membership, Action.EDIT_PROMPT)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        revision = services.create_revision(
            self.membership, self.shot, serialize=lambda r: PromptRevisionSerializer(r).data, **serializer.validated_data
        )
        return Response(PromptRevisionSerializer(revision).data, status=status.HTTP_201_CREATED)


class RevisionDiff(ShotChildMixin, APIView):
    @extend_schema(responses=RevisionDiffSerializer)
    def get(self, request, shot_id, a, b):
        revisions = {r.pk: r for r in self.shot.revisions.filter(pk__in=[a, b]).prefetch_related("assets")}
        if a not in revisions or b not in revisions:
            raise Http404
        return Response(revision_diff(revisions[a], revisions[b]))


# --- assets and presets --------------------------------------------------------------------


class AssetList(ScopedParentMixin, generics.ListCreateAPIView):
    serializer_class = AssetSerializer

    def get_queryset(self):
        return self.project.assets.select_related("uploaded_by")

    def create(self, request, *args, **kwargs):
        require(self.membership, Action.EDIT_PROMPT)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.create_asset(self.membership, **serializer.validated_data)


class AssetDetail(ScopedParentMixin, generics.RetrieveAPIView):
    serializer_class = AssetSerializer
    lookup_url_kwarg = "asset_id"

    def get_queryset(self):
        return self.project.assets.select_related("uploaded_by")


class PresetList(ScopedParentMixin, generics.ListCreateAPIView):
    serializer_class = StylePresetSerializer

    def get_queryset(self):
        return self.project.presets.all()

    def create(self, request, *args, **kwargs):
        require(self.membership, Action.EDIT_PROMPT)  # 403 before any 400
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.create_preset(self.membership, **serializer.validated_data)


# --- comments ------------------------------------------------------------------------------


class CommentListMixin:
    """Comments of a take (``/takes/{id}/comments/``) or of a shot (``/shots/{id}/comments/``)."""

    serializer_class = CommentSerializer

    def take_or_none(self):
        return getattr(self, "take", None)

    def comment_queryset(self):
        queryset = Comment.objects.filter(shot=self.shot).select_related("author", "resolved_by").prefetch_related("mentions")
        take = self.take_or_none()
        return queryset.filter(take=take) if take is not None else queryset.filter(take__isnull=True)

    def get_queryset(self):
        queryset = self.comment_queryset()
        frame = int_param(self.request, "frame")
        if frame is not None:
            queryset = queryset.filter(frame=frame)
        return queryset.order_by("frame", "created_at", "id") if self.take_or_none() else queryset

    def perform_create(self, serializer):
        serializer.instance = services.create_comment(
            self.membership, shot=self.shot, take=self.take_or_none(), **serializer.validated_data
        )

    def create(self, request, *args, **kwargs):
        require(self.membership, Action.COMMENT)
        return super().create(request, *args, **kwargs)


class ShotCommentList(ShotChildMixin, CommentListMixin, generics.ListCreateAPIView):
    pass


class TakeCommentList(TakeChildMixin, CommentListMixin, generics.ListCreateAPIView):
    pass


class CommentDetailMixin(CommentListMixin):
    lookup_url_kwarg = "comment_id"
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return self.comment_queryset()

    def get_serializer_class(self):
        return CommentUpdateSerializer if self.request.method == "PATCH" else CommentSerializer

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.update_comment(
            self.membership, serializer.instance,
            body=data.get("body"), resolved=data.get("resolved"), annotation=data.get("annotation"),
        )


class TakeCommentDetail(TakeChildMixin, CommentDetailMixin, generics.RetrieveUpdateAPIView):
    pass


class ShotCommentDetail(ShotChildMixin, CommentDetailMixin, generics.RetrieveUpdateAPIView):
    pass


# --- activity, my work, notifications ---------------------------------------------------------


class EventList(ScopedParentMixin, generics.ListAPIView):
    serializer_class = EventSerializer

    @extend_schema(parameters=[OpenApiParameter("after", int, description="Return events with seq greater than this")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        after = int_param(self.request, "after") or 0
        return Event.objects.filter(project=self.project, seq__gt=after).select_related("actor").order_by("seq")


class MyWork(generics.ListAPIView):
    serializer_class = WorkShotSerializer

    def get_queryset(self):
        return filter_shots(services.my_work(self.request.user), self.request)


class NotificationPagination(StudioPagination):
    """A page of notifications, with the user's unread count beside it (and in the schema)."""

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["unread_count"] = Notification.objects.for_user(self.request.user).unread().count()
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["unread_count"] = {"type": "integer", "example": 3}
        schema.setdefault("required", []).append("unread_count")
        return schema


@extend_schema(parameters=[OpenApiParameter("unread", str, description="1: unread ones only")])
class NotificationList(generics.ListAPIView):
    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination

    def get_queryset(self):
        queryset = Notification.objects.for_user(self.request.user).select_related("project", "shot", "actor")
        if self.request.query_params.get("unread") in ("1", "true"):
            queryset = queryset.unread()
        return queryset


class NotificationRead(APIView):
    @extend_schema(request=NotificationReadSerializer, responses={200: None})
    def post(self, request):
        serializer = NotificationReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = None if serializer.validated_data.get("all") else serializer.validated_data["ids"]
        marked = services.mark_notifications_read(request.user, ids)
        unread = Notification.objects.for_user(request.user).unread().count()
        return Response({"marked": marked, "unread_count": unread})
