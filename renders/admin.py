from django.contrib import admin

from .models import RenderJob, Take


@admin.register(RenderJob)
class RenderJobAdmin(admin.ModelAdmin):
    list_display = ["id", "shot", "provider", "kind", "variant", "status", "progress", "attempts", "created_at"]
    list_filter = ["status", "provider", "kind"]
    list_select_related = ["shot"]
    raw_id_fields = ["revision", "source_take"]


@admin.register(Take)
class TakeAdmin(admin.ModelAdmin):
    list_display = ["id", "shot", "number", "kind", "provider", "review_status", "width", "height", "created_at"]
    list_filter = ["kind", "provider", "review_status"]
    list_select_related = ["shot"]
    raw_id_fields = ["job", "revision", "source_take"]
