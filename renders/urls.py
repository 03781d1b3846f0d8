from django.urls import path

from . import api

urlpatterns = [
    path("shots/<int:shot_id>/takes/", api.ShotTakeList.as_view(), name="shot-take-list"),
    path("shots/<int:shot_id>/current-take/", api.ShotCurrentTake.as_view(), name="shot-current-take"),
    path("takes/<int:take_id>/", api.TakeDetail.as_view(), name="take-detail"),
    path("takes/<int:take_id>/review/", api.TakeReview.as_view(), name="take-review"),
    path("renders/<int:job_id>/", api.RenderJobDetail.as_view(), name="render-detail"),
    path("renders/<int:job_id>/cancel/", api.RenderJobCancel.as_view(), name="render-cancel"),
    path("renders/<int:job_id>/retry/", api.RenderJobRetry.as_view(), name="render-retry"),
    path("shots/<int:shot_id>/renders/", api.ShotRenderList.as_view(), name="shot-render-list"),
    path("projects/<int:project_id>/renders/", api.ProjectRenderList.as_view(), name="project-render-list"),
    path("projects/<int:project_id>/renders/batch/", api.ProjectBatchRender.as_view(), name="project-render-batch"),
]
