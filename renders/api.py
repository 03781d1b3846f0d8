from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.permissions import Action, require
from projects.scoping import ScopedParentMixin, ShotChildMixin, TakeChildMixin
from projects.serializers import ShotSerializer

from . import services
from .models import ACTIVE_STATUSES, RenderJob, RenderStatus, Take
from .serializers import (
    BatchRenderRequestSerializer,
    CurrentTakeSerializer,
    RenderJobSerializer,
    RenderJobsSerializer,
    RenderRequestSerializer,
    TakeReviewSerializer,
    TakeSerializer,
)

TAKE_RELATED = ("revision", "job", "reviewed_by", "created_by")


class ShotTakeList(ShotChildMixin, generics.ListAPIView):
    serializer_class = TakeSerializer

    def get_queryset(self):
        return self.shot.takes.select_related(*TAKE_RELATED).order_by("-number", "-id")


class TakeDetail(generics.RetrieveAPIView):
    serializer_class = TakeSerializer
    lookup_url_kwarg = "take_id"

    def get_queryset(self):
        return Take.objects.for_user(self.request.user).select_related(*TAKE_RELATED)


class TakeReview(TakeChildMixin, APIView):
    @extend_schema(request=TakeReviewSerializer, responses=TakeSerializer)
    def post(self, request, take_id):
        serializer = TakeReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        take = services.review_take(self.membership, self.take, **serializer.validated_data)
        return Response(TakeSerializer(take).data)


class ShotCurrentTake(ShotChildMixin, APIView):
    @extend_schema(request=CurrentTakeSerializer, responses=ShotSerializer)
    def post(self, request, shot_id):
        serializer = CurrentTakeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shot = services.set_current_take(self.membership, self.shot, serializer.validated_data["take"])
        return Response(ShotSerializer(shot).data)


class RenderJobDetail(generics.RetrieveAPIView):
    serializer_class = RenderJobSerializer
    lookup_url_kwarg = "job_id"

    def get_queryset(self):
        return RenderJob.objects.for_user(self.request.user).select_related("created_by", "take")


JOB_RELATED = ("created_by", "take")
STATUS_PARAMETER = OpenApiParameter(
    "status", str, description="queued, running, succeeded, failed, canceled, or active (queued + running)")


def filter_jobs(queryset, request):
    wanted = request.query_params.get("status")
    if not wanted:
        return queryset
    if wanted == "active":
        return queryset.filter(status__in=ACTIVE_STATUSES)
    if wanted not in RenderStatus.values:
        raise ValidationError({"status": [f"Unknown status “{wanted}”."]})
    return queryset.filter(status=wanted)


def jobs_response(jobs) -> Response:
    """202 with the created jobs, read back in one query (whatever the number of jobs)."""
    ids = [job.pk for job in jobs]
    fresh = RenderJob.objects.filter(pk__in=ids).select_related(*JOB_RELATED).order_by("id")
    return Response({"jobs": RenderJobSerializer(fresh, many=True).data}, status=status.HTTP_202_ACCEPTED)


@extend_schema(parameters=[STATUS_PARAMETER])
class ShotRenderList(ShotChildMixin, generics.ListAPIView):
    """GET: the shot's render jobs, newest first. POST: start renders (one job per variant)."""

    serializer_class = RenderJobSerializer

    def get_queryset(self):
        return filter_jobs(self.shot.render_jobs.select_related(*JOB_RELATED).order_by("-created_at", "-id"),
                           self.request)

    @extend_schema(request=RenderRequestSerializer, responses={202: RenderJobsSerializer})
    def post(self, request, shot_id):
        require(self.membership, Action.RENDER)  # 403 before any 400
        serializer = RenderRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return jobs_response(services.create_render_jobs(self.membership, self.shot, **serializer.validated_data))


@extend_schema(parameters=[STATUS_PARAMETER])
class ProjectRenderList(ScopedParentMixin, generics.ListAPIView):
    serializer_class = RenderJobSerializer

    def get_queryset(self):
        return filter_jobs(self.project.render_jobs.select_related(*JOB_RELATED).order_by("-created_at", "-id"),
                           self.request)


class ProjectBatchRender(ScopedParentMixin, APIView):
    """The same render for a selection of shots or a whole sequence: all queued, or none (400)."""

    @extend_schema(request=BatchRenderRequestSerializer, responses={202: RenderJobsSerializer})
    def post(self, request, project_id):
        require(self.membership, Action.RENDER)
        serializer = BatchRenderRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        shots_qs = self.project.shots.select_related("project", "current_take").order_by(
            "sequence__order", "order", "code", "id")
        if "sequence" in data:
            sequence_id = data.pop("sequence")
            if not self.project.sequences.filter(pk=sequence_id).exists():
                raise ValidationError({"sequence": ["No such sequence in this project."]})
            shots = list(shots_qs.filter(sequence_id=sequence_id))
            if not shots:
                raise ValidationError({"sequence": ["This sequence has no shots."]})
        else:
            ids = list(dict.fromkeys(data.pop("shots")))
            shots = list(shots_qs.filter(pk__in=ids))
            missing = sorted(set(ids) - {shot.pk for shot in shots})
            if missing:
                raise ValidationError({"shots": [f"Not shots of this project: {', '.join(map(str, missing[:20]))}."]})
        return jobs_response(services.create_batch_render(self.membership, shots, **data))


class RenderJobAction(ScopedParentMixin, APIView):
    """A write on one render job: the scope mixin resolves ``self.job`` and ``self.membership``."""

    parent_model = RenderJob
    parent_kwarg = "job_id"
    parent_attr = "job"


class RenderJobCancel(RenderJobAction):
    @extend_schema(request=None, responses=RenderJobSerializer)
    def post(self, request, job_id):
        job = services.cancel_job(self.membership, self.job)
        return Response(RenderJobSerializer(job).data)


class RenderJobRetry(RenderJobAction):
    @extend_schema(request=None, responses={202: RenderJobsSerializer})
    def post(self, request, job_id):
        return jobs_response([services.retry_job(self.membership, self.job)])
