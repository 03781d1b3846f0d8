from django.contrib import admin

from .models import Asset, Comment, Event, Membership, Notification, Project, PromptRevision, Sequence, Shot, StylePreset


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "fps", "width", "height", "default_provider", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    readonly_fields = ["last_event_seq"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["project", "user"]
    search_fields = ["user__username", "project__name"]


@admin.register(Sequence)
class SequenceAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "project", "order"]
    list_select_related = ["project"]
    search_fields = ["code", "title"]


@admin.register(Shot)
class ShotAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "project", "sequence", "status", "assignee", "due_date", "version"]
    list_filter = ["status"]
    list_select_related = ["project", "sequence", "assignee"]
    search_fields = ["code", "title", "description"]
    raw_id_fields = ["current_take"]


@admin.register(PromptRevision)
class PromptRevisionAdmin(admin.ModelAdmin):
    list_display = ["shot", "number", "author", "note", "created_at"]
    list_select_related = ["shot", "author"]
    search_fields = ["prompt", "note"]

    def has_change_permission(self, request, obj=None):
        return False  # immutable


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "project", "width", "height", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["project"]


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "project"]
    list_filter = ["kind"]
    list_select_related = ["project"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "shot", "take", "author", "frame", "resolved", "created_at"]
    list_filter = ["resolved"]
    list_select_related = ["shot", "take", "author"]
    raw_id_fields = ["take", "parent"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["project", "seq", "type", "actor", "created_at"]
    list_filter = ["type"]
    list_select_related = ["project", "actor"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "project", "read_at", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["user", "project"]
