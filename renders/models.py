"""Render jobs (one per variant) and the takes they produce."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from projects.models import ProjectScopedQuerySet, Project, PromptRevision, Shot, project_media_path


class RenderKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")


class RenderStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


ACTIVE_STATUSES = (RenderStatus.QUEUED, RenderStatus.RUNNING)
TERMINAL_STATUSES = (RenderStatus.SUCCEEDED, RenderStatus.FAILED, RenderStatus.CANCELED)


class RenderJobQuerySet(ProjectScopedQuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)


class RenderJob(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="render_jobs")
    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="render_jobs")
    revision = models.ForeignKey(PromptRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="render_jobs")
    source_take = models.ForeignKey("Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_jobs")
    provider = models.CharField(max_length=50)
    kind = models.CharField(max_length=10, choices=RenderKind.choices)
    #: Jobs created by one request share a batch id; variant is the index within it.
    batch = models.UUIDField(null=True, blank=True, db_index=True)
    variant = models.PositiveSmallIntegerField(default=0)
    seed = models.BigIntegerField(default=0)
    #: Fully resolved parameters sent to the back end (prompt, size, fps, ...).
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=RenderStatus.choices, default=RenderStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    #: The back end's reference, saved right after submit so a redelivered task resumes.
    provider_job_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RenderJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shot", "status"])]

    def __str__(self):
        return f"render {self.pk} {self.provider}/{self.kind} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def take_upload_to(instance, filename):
    return project_media_path(instance.project_id, "takes", filename)


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    CHANGES = "changes", _("Changes requested")
    REJECTED = "rejected", _("Rejected")


class Take(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="takes")
    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="takes")
    #: One take per job: the constraint is what makes a redelivered task harmless.
    job = models.OneToOneField(RenderJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="take")
    revision = models.ForeignKey(PromptRevision, null=True, blank=True, on_delete=models.PROTECT, related_name="takes")
    source_take = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_takes")
    number = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=10, choices=RenderKind.choices)
    media = models.FileField(upload_to=take_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=take_upload_to, max_length=300, blank=True)
    poster = models.FileField(upload_to=take_upload_to, max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    duration_s = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    seed = models.BigIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    provider = models.CharField(max_length=50)
    provider_job_id = models.CharField(max_length=200, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    review_status = models.CharField(max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["shot_id", "-number", "-id"]
        constraints = [models.UniqueConstraint(fields=["shot", "number"], name="unique_take_number")]

    def __str__(self):
        return f"{self.shot} take {self.number}"
