from django.apps import AppConfig


class RendersConfig(AppConfig):
    name = "renders"
    verbose_name = "Renders"
