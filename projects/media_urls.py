from django.urls import path

from .media import serve_media

urlpatterns = [path("media/<path:name>", serve_media, name="media")]
