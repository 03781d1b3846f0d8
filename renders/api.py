from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.scoping import ShotChildMixin, TakeChildMixin
from projects.serializers import ShotSerializer

from . import services
from .models import RenderJob, Take
from .serializers import CurrentTakeSerializer, RenderJobSerializer, TakeReviewSerializer, TakeSerializer

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
