from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("projects.urls")),
    path("api/", include("renders.urls")),
    path("", include("projects.media_urls")),
    path("", include("frontend.urls")),
]

handler404 = "frontend.views.page_not_found"
