"""The studio's domain: projects and everything that belongs to one.

Every model reaches a project; ``for_user(user)`` on each manager is the one membership
scope that the API, the pages and the sockets apply.
"""
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    DIRECTOR = "director", _("Director")
    ARTIST = "artist", _("Artist")
    REVIEWER = "reviewer", _("Reviewer")
    GUEST = "guest", _("Guest")


def project_media_path(project_id: int, folder: str, filename: str) -> str:
    """Every stored file lives under projects/<id>/, which is how the media view scopes it."""
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"projects/{project_id}/{folder}/{uuid.uuid4().hex}{suffix}"


def asset_upload_to(instance, filename):
    return project_media_path(instance.project_id, "assets", filename)


#: Higher can do everything lower can (see projects/permissions.py).
ROLE_RANK = {Role.GUEST: 0, Role.REVIEWER: 1, Role.ARTIST: 2, Role.DIRECTOR: 3, Role.OWNER: 4}


class ProjectScopedQuerySet(models.QuerySet):
    """Rows the user can see: those of projects the user is a member of."""

    project_path = "project"

    def for_user(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        return self.filter(**{f"{self.project_path}__memberships__user": user})


class ProjectQuerySet(ProjectScopedQuerySet):
    def for_user(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Project(models.Model):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    fps = models.PositiveSmallIntegerField(_("frames per second"), default=24)
    width = models.PositiveIntegerField(_("width"), default=1280)
    height = models.PositiveIntegerField(_("height"), default=720)
    #: Non-secret provider settings by provider name, e.g. {"comfyui": {"base_url": ...}}.
    #: Credentials are referenced by environment variable name, never stored here.
    provider_settings = models.JSONField(_("provider settings"), default=dict, blank=True)
    default_provider = models.CharField(_("default provider"), max_length=50, default="local")
    #: The last event sequence number handed out; incremented under a row lock.
    last_event_seq = models.PositiveBigIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        """Never write ``last_event_seq`` from an instance: only record_event moves it, under
        its row lock. Saving a project loaded before some events were recorded (the admin,
        a settings form) would otherwise put the counter back and the next event would
        reuse a seq."""
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                field.name for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "last_event_seq"
            ]
        super().save(*args, **kwargs)


class MembershipQuerySet(ProjectScopedQuerySet):
    pass


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ARTIST)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.project} as {self.role}"

    @property
    def rank(self) -> int:
        return ROLE_RANK[Role(self.role)]


class Sequence(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sequences")
    code = models.CharField(max_length=50)
    title = models.CharField(max_length=200, blank=True)
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "order", "code", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "code"], name="unique_sequence_code")]

    def __str__(self):
        return self.code


class ShotStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    REVIEW = "review", _("In review")
    CHANGES = "changes", _("Changes requested")
    APPROVED = "approved", _("Approved")


class Shot(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="shots")
    sequence = models.ForeignKey(Sequence, null=True, blank=True, on_delete=models.SET_NULL, related_name="shots")
    code = models.CharField(max_length=50)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    order = models.IntegerField(default=0)
    duration_s = models.DecimalField(max_digits=6, decimal_places=2, default=5)
    status = models.CharField(max_length=20, choices=ShotStatus.choices, default=ShotStatus.TODO)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_shots"
    )
    due_date = models.DateField(null=True, blank=True)
    #: Optimistic concurrency: every write bumps it; a PATCH carrying an older one gets 409.
    version = models.PositiveIntegerField(default=1)
    current_take = models.ForeignKey(
        "renders.Take", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "sequence__order", "order", "code", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "code"], name="unique_shot_code")]
        indexes = [models.Index(fields=["assignee", "due_date"])]

    def __str__(self):
        return self.code


class Asset(models.Model):
    class Kind(models.TextChoices):
        CHARACTER = "character", _("Character")
        STYLE = "style", _("Style")
        LOCATION = "location", _("Location")
        PROP = "prop", _("Prop")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assets")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CHARACTER)
    description = models.TextField(blank=True)
    image = models.ImageField(upload_to=asset_upload_to, width_field="width", height_field="height", max_length=300)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "kind", "name", "id"]

    def __str__(self):
        return self.name


class StylePreset(models.Model):
    class Kind(models.TextChoices):
        STYLE = "style", _("Style preset")
        SNIPPET = "snippet", _("Prompt snippet")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="presets")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STYLE)
    prompt = models.TextField(blank=True, help_text=_("Fragment appended to the shot prompt."))
    negative_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "kind", "name", "id"]

    def __str__(self):
        return self.name


class ShotScopedQuerySet(ProjectScopedQuerySet):
    project_path = "shot__project"


class PromptRevision(models.Model):
    """One immutable state of a shot's prompt; editing writes a new revision."""

    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    assets = models.ManyToManyField(Asset, blank=True, related_name="revisions")
    presets = models.ManyToManyField(StylePreset, blank=True, related_name="revisions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ShotScopedQuerySet.as_manager()

    class Meta:
        ordering = ["shot_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["shot", "number"], name="unique_revision_number")]

    def __str__(self):
        return f"{self.shot} r{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Prompt revisions are immutable; write a new revision instead.")
        super().save(*args, **kwargs)


class Comment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comments")
    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="comments")
    take = models.ForeignKey("renders.Take", null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    #: Frame number in the take, first frame 0 (renders.media.frame_at is the one conversion).
    frame = models.PositiveIntegerField(null=True, blank=True)
    #: Vector drawing: {"shapes": [{"tool": "pen"|"arrow"|"rect", "color": "#rrggbb", "width": n,
    #: "points": [[x, y], ...]}]} with x, y in 0..1 of the frame.
    annotation = models.JSONField(null=True, blank=True)
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["take", "frame"])]

    def __str__(self):
        return f"comment {self.pk} on {self.shot}"


class Event(models.Model):
    """What happened in a project, in order: ``seq`` has no gap and no duplicate per project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=50)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="unique_event_seq")]

    def __str__(self):
        return f"{self.project_id}#{self.seq} {self.type}"


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        # Only notifications from projects the user still belongs to.
        return self.filter(user=user, project__memberships__user=user)

    def for_user_id(self, user_id):
        return self.filter(user_id=user_id, project__memberships__user_id=user_id)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned to you")
        MENTIONED = "mentioned", _("Mentioned you")
        REVIEWED = "reviewed", _("Review on your take")
        RENDER_SUCCEEDED = "render_succeeded", _("Render finished")
        RENDER_FAILED = "render_failed", _("Render failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    shot = models.ForeignKey(Shot, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self):
        return f"{self.kind} for {self.user}"
