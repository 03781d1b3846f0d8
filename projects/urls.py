from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("projects", api.ProjectViewSet, basename="project")

urlpatterns = [
    path("auth/token/", api.ObtainToken.as_view(), name="api-token"),
    path("projects/<int:project_id>/members/", api.MemberList.as_view(), name="member-list"),
    path("projects/<int:project_id>/members/<int:member_id>/", api.MemberDetail.as_view(), name="member-detail"),
    path("projects/<int:project_id>/sequences/", api.SequenceList.as_view(), name="sequence-list"),
    path("projects/<int:project_id>/sequences/<int:sequence_id>/", api.SequenceDetail.as_view(), name="sequence-detail"),
    path("projects/<int:project_id>/shots/", api.ShotList.as_view(), name="shot-list"),
    path("projects/<int:project_id>/board/", api.Board.as_view(), name="board"),
    path("projects/<int:project_id>/assets/", api.AssetList.as_view(), name="asset-list"),
    path("projects/<int:project_id>/assets/<int:asset_id>/", api.AssetDetail.as_view(), name="asset-detail"),
    path("projects/<int:project_id>/presets/", api.PresetList.as_view(), name="preset-list"),
    path("projects/<int:project_id>/events/", api.EventList.as_view(), name="event-list"),
    path("shots/<int:shot_id>/", api.ShotDetail.as_view(), name="shot-detail"),
    path("shots/<int:shot_id>/revisions/", api.RevisionList.as_view(), name="revision-list"),
    path("shots/<int:shot_id>/revisions/<int:a>/diff/<int:b>/", api.RevisionDiff.as_view(), name="revision-diff"),
    path("shots/<int:shot_id>/comments/", api.ShotCommentList.as_view(), name="shot-comment-list"),
    path("shots/<int:shot_id>/comments/<int:comment_id>/", api.ShotCommentDetail.as_view(), name="shot-comment-detail"),
    path("takes/<int:take_id>/comments/", api.TakeCommentList.as_view(), name="take-comment-list"),
    path("takes/<int:take_id>/comments/<int:comment_id>/", api.TakeCommentDetail.as_view(), name="take-comment-detail"),
    path("me/work/", api.MyWork.as_view(), name="my-work"),
    path("notifications/", api.NotificationList.as_view(), name="notification-list"),
    path("notifications/read/", api.NotificationRead.as_view(), name="notification-read"),
    *router.urls,
]
