from django.urls import path

from . import api

urlpatterns = [
    path("shots/<int:shot_id>/takes/", api.ShotTakeList.as_view(), name="shot-take-list"),
    path("shots/<int:shot_id>/current-take/", api.ShotCurrentTake.as_view(), name="shot-current-take"),
    path("takes/<int:take_id>/", api.TakeDetail.as_view(), name="take-detail"),
    path("takes/<int:take_id>/review/", api.TakeReview.as_view(), name="take-review"),
    path("renders/<int:job_id>/", api.RenderJobDetail.as_view(), name="render-detail"),
]
