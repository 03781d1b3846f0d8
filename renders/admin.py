from django.contrib import admin

from .models import RenderJob, Take


@admin.register(RenderJob)
class RenderJobAdmin(admin.ModelAdmin):
    list_display = ["id", "shot", "provider", "kind", "variant", "status", "progress", "message", "attempts", "worker",
                    "heartbeat_at", "created_at"]
    list_filter = ["status", "provider", "kind"]
    list_select_related = ["shot"]
    search_fields = ["=id", "provider_job_id", "shot__code", "error"]
    raw_id_fields = ["project", "shot", "revision", "source_take", "created_by"]
    readonly_fields = ["batch", "provider_job_id", "attempts", "worker", "heartbeat_at", "started_at", "finished_at"]


@admin.register(Take)
class TakeAdmin(admin.ModelAdmin):
    list_display = ["id", "shot", "number", "kind", "provider", "review_status", "width", "height", "created_at"]
    list_filter = ["kind", "provider", "review_status"]
    list_select_related = ["shot"]
    raw_id_fields = ["job", "revision", "source_take"]
