"""Page routes. Shell pages (views.py) and review pages (review_views.py) are owned separately."""
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from . import review_views, views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["frontend"]), name="javascript-catalog"),
    path("me/work/", views.my_work, name="my-work-page"),
    path("notifications/", views.notifications, name="notifications-page"),
    path("p/<int:project_id>/", views.board, name="board-page"),
    path("p/<int:project_id>/members/", views.members, name="members-page"),
    path("p/<int:project_id>/activity/", views.activity, name="activity-page"),
    path("p/<int:project_id>/shots/<int:shot_id>/", review_views.shot_page, name="shot-page"),
    path("p/<int:project_id>/review/<int:take_id>/", review_views.review_page, name="review-page"),
    path("p/<int:project_id>/compare/<int:take_a>/<int:take_b>/", review_views.compare_page, name="compare-page"),
]
