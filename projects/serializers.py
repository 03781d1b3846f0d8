from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Asset, Comment, Membership, Notification, Project, PromptRevision, Role, Sequence, Shot, StylePreset
from .permissions import capabilities

User = get_user_model()


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name"]

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()
    providers = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "fps", "width", "height", "default_provider", "provider_settings",
                  "providers", "role", "capabilities", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"provider_settings": {"write_only": True}}

    def _membership(self, project):
        memberships = self.context.get("memberships") or {}
        if project.pk not in memberships and "request" in self.context:
            user = self.context["request"].user
            memberships[project.pk] = Membership.objects.filter(project=project, user=user).first() if user.is_authenticated else None
            self.context["memberships"] = memberships
        return memberships.get(project.pk)

    def get_role(self, project) -> str | None:
        membership = self._membership(project)
        return membership.role if membership else None

    def get_capabilities(self, project) -> list[str]:
        return capabilities(self._membership(project))

    def get_providers(self, project) -> dict:
        """Provider settings as the API may show them: secrets and key names stripped."""
        from renders.providers import public_config

        return {name: public_config(name, config) for name, config in (project.provider_settings or {}).items()}

    def validate_fps(self, value):
        if not 1 <= value <= 120:
            raise serializers.ValidationError("Frames per second must be between 1 and 120.")
        return value

    def validate_provider_settings(self, value):
        from renders.providers import PROVIDERS

        if not isinstance(value, dict):
            raise serializers.ValidationError("Provider settings must be an object keyed by provider name.")
        unknown = sorted(set(value) - set(PROVIDERS))
        if unknown:
            raise serializers.ValidationError(f"Unknown provider(s): {', '.join(unknown)}.")
        from renders.providers import public_config

        for name, config in value.items():
            if not isinstance(config, dict):
                raise serializers.ValidationError(f"Settings of {name} must be an object.")
            # Whatever the registry would hide from the API (secret-looking keys at any depth,
            # credentials inside URLs) must not be stored in the first place.
            if public_config(name, config) != config:
                raise serializers.ValidationError(
                    f"Settings of {name} contain a credential; keep it in an environment variable and "
                    "name that variable with api_key_env.")
            check_provider_endpoints(name, config)
        return value

    def validate_default_provider(self, value):
        from renders.providers import PROVIDERS

        if value not in PROVIDERS:
            raise serializers.ValidationError(f"Unknown provider “{value}”.")
        return value


def check_provider_endpoints(name: str, config: dict) -> None:
    """Where a render sends our keys is the operator's decision, not a project editor's.

    ``base_url`` must name a host the operator allowed (PROVIDER_ALLOWED_HOSTS), and
    ``api_key_env`` must be one of the operator's PROVIDER_KEY_ENVS, so nobody can point a
    worker (and its Bearer token) at a host of their own or at the internal network.
    """
    from urllib.parse import urlparse

    from django.conf import settings

    base_url = config.get("base_url")
    if base_url is not None:
        host = (urlparse(str(base_url)).hostname or "").lower()
        if host not in settings.PROVIDER_ALLOWED_HOSTS:
            raise serializers.ValidationError(
                f"{name}: {host or base_url} is not an allowed provider host; an administrator can add it to "
                "PROVIDER_ALLOWED_HOSTS.")
    key_env = config.get("api_key_env")
    if key_env is not None and key_env not in settings.PROVIDER_KEY_ENVS:
        raise serializers.ValidationError(
            f"{name}: {key_env} is not an allowed credential variable; an administrator can add it to PROVIDER_KEY_ENVS.")


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(source="user", slug_field="username", read_only=True)
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "user", "role", "created_at"]


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class SequenceSerializer(serializers.ModelSerializer):
    shot_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Sequence
        fields = ["id", "code", "title", "order", "shot_count", "created_at"]

    def validate_code(self, value):
        """The (project, code) constraint, as a readable 400 instead of an IntegrityError."""
        value = value.strip()
        if not value:
            raise serializers.ValidationError("The code cannot be empty.")
        qs = Sequence.objects.filter(project_id=self.context.get("project_id"), code=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(f"Sequence {value} already exists in this project.")
        return value


class ProjectMemberField(serializers.PrimaryKeyRelatedField):
    """A user id that must belong to a member of the view's project."""

    def get_queryset(self):
        project_id = self.context["project_id"]
        return User.objects.filter(memberships__project_id=project_id)

    def to_representation(self, value):
        return value.pk


class ShotSerializer(serializers.ModelSerializer):
    assignee = ProjectMemberField(allow_null=True, required=False)
    sequence = serializers.PrimaryKeyRelatedField(queryset=Sequence.objects.none(), allow_null=True, required=False)

    class Meta:
        model = Shot
        fields = ["id", "project", "sequence", "code", "title", "description", "order", "duration_s", "status",
                  "assignee", "due_date", "version", "current_take", "created_at", "updated_at"]
        read_only_fields = ["project", "version", "current_take", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        project_id = self.context.get("project_id")
        if project_id is not None:
            self.fields["sequence"].queryset = Sequence.objects.filter(project_id=project_id)

    def validate_duration_s(self, value):
        if value <= 0 or value > 600:
            raise serializers.ValidationError("Duration must be between 0 and 600 seconds.")
        return value

    def validate_code(self, value):
        value = value.strip()
        if not value:
            raise serializers.ValidationError("The code cannot be empty.")
        project_id = self.context.get("project_id")
        qs = Shot.objects.filter(project_id=project_id, code=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(f"Shot {value} already exists in this project.")
        return value


class ShotUpdateSerializer(ShotSerializer):
    version = serializers.IntegerField(min_value=1)

    class Meta(ShotSerializer.Meta):
        read_only_fields = ["project", "current_take", "created_at", "updated_at"]


class BoardTakeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    kind = serializers.CharField()
    thumbnail_url = serializers.SerializerMethodField()
    review_status = serializers.CharField()

    def get_thumbnail_url(self, take) -> str | None:
        field = take.thumbnail or take.poster
        return field.url if field else None


class ActiveRenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    provider = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    message = serializers.CharField()


class BoardShotSerializer(serializers.ModelSerializer):
    assignee = UserSummarySerializer(read_only=True)
    current_take = BoardTakeSerializer(read_only=True)
    latest_revision = serializers.SerializerMethodField()
    active_renders = ActiveRenderSerializer(many=True, read_only=True)
    comment_count = serializers.IntegerField(read_only=True)
    take_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Shot
        fields = ["id", "sequence", "code", "title", "order", "duration_s", "status", "assignee", "due_date",
                  "version", "current_take", "latest_revision", "active_renders", "comment_count", "take_count"]

    def get_latest_revision(self, shot) -> dict | None:
        if not shot.latest_revision_id:
            return None
        return {"id": shot.latest_revision_id, "number": shot.latest_revision_number, "prompt": shot.latest_revision_prompt}


class PromptRevisionSerializer(serializers.ModelSerializer):
    author = UserSummarySerializer(read_only=True)
    base = serializers.PrimaryKeyRelatedField(queryset=PromptRevision.objects.none(), allow_null=True, required=False,
                                              write_only=True)
    assets = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.none(), many=True, required=False)
    presets = serializers.PrimaryKeyRelatedField(queryset=StylePreset.objects.none(), many=True, required=False)

    class Meta:
        model = PromptRevision
        fields = ["id", "shot", "number", "prompt", "negative_prompt", "params", "assets", "presets", "author", "note",
                  "base", "parent", "created_at"]
        read_only_fields = ["shot", "number", "parent", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shot = self.context.get("shot")
        if shot is not None:
            self.fields["base"].queryset = PromptRevision.objects.filter(shot=shot)
            self.fields["assets"].child_relation.queryset = Asset.objects.filter(project_id=shot.project_id)
            self.fields["presets"].child_relation.queryset = StylePreset.objects.filter(project_id=shot.project_id)

    def validate_prompt(self, value):
        if not value.strip():
            raise serializers.ValidationError("The prompt cannot be empty.")
        if len(value) > 8000:
            raise serializers.ValidationError("The prompt is longer than 8000 characters.")
        return value

    def validate_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Params must be an object.")
        return value


#: Stored extension by sniffed format: the media view's Content-Type follows the name.
UPLOAD_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


class AssetSerializer(serializers.ModelSerializer):
    uploaded_by = UserSummarySerializer(read_only=True)
    #: A plain file field: renders.media.validate_image_upload is the one check (content
    #: sniffed, bytes, pixels, bombs, truncation), so every rejection reads the same way.
    image = serializers.FileField(max_length=200)

    class Meta:
        model = Asset
        fields = ["id", "name", "kind", "description", "image", "width", "height", "uploaded_by", "created_at"]
        read_only_fields = ["width", "height", "created_at"]

    def validate_image(self, image):
        from pathlib import PurePath

        from django.conf import settings

        from renders.media import MediaError, validate_image_upload

        try:
            fmt, width, height = validate_image_upload(
                image, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS)
        except MediaError as exc:
            raise serializers.ValidationError(str(exc)) from None
        image.name = PurePath(image.name).stem[:100] + UPLOAD_EXTENSIONS[fmt]
        return image


class StylePresetSerializer(serializers.ModelSerializer):
    class Meta:
        model = StylePreset
        fields = ["id", "name", "kind", "prompt", "negative_prompt", "params", "created_at"]

    def validate_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Params must be an object.")
        return value


ANNOTATION_TOOLS = {"pen", "arrow", "rect", "ellipse", "line"}
MAX_SHAPES = 200
MAX_POINTS = 5000


def validate_annotation(value):
    """A vector drawing in 0..1 frame coordinates: {"shapes": [{"tool","color","width","points"}]}."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("shapes"), list):
        raise serializers.ValidationError("An annotation is an object with a list of shapes.")
    shapes = value["shapes"]
    if len(shapes) > MAX_SHAPES:
        raise serializers.ValidationError(f"An annotation holds at most {MAX_SHAPES} shapes.")
    total = 0
    clean = []
    for index, shape in enumerate(shapes):
        if not isinstance(shape, dict) or shape.get("tool") not in ANNOTATION_TOOLS:
            raise serializers.ValidationError(f"Shape {index + 1}: tool must be one of {', '.join(sorted(ANNOTATION_TOOLS))}.")
        color = shape.get("color", "#ff3b30")
        if not (isinstance(color, str) and len(color) == 7 and color.startswith("#")):
            raise serializers.ValidationError(f"Shape {index + 1}: colour must look like #rrggbb.")
        width = shape.get("width", 3)
        if not isinstance(width, (int, float)) or not 0 < width <= 50:
            raise serializers.ValidationError(f"Shape {index + 1}: width must be between 0 and 50.")
        points = shape.get("points")
        if not isinstance(points, list) or len(points) < (1 if shape["tool"] == "pen" else 2):
            raise serializers.ValidationError(f"Shape {index + 1}: not enough points.")
        total += len(points)
        if total > MAX_POINTS:
            raise serializers.ValidationError(f"An annotation holds at most {MAX_POINTS} points.")
        for point in points:
            if (not isinstance(point, (list, tuple)) or len(point) != 2
                    or not all(isinstance(c, (int, float)) and 0 <= c <= 1 for c in point)):
                raise serializers.ValidationError(f"Shape {index + 1}: points are [x, y] pairs between 0 and 1.")
        clean.append({"tool": shape["tool"], "color": color.lower(), "width": width,
                      "points": [[round(float(x), 5), round(float(y), 5)] for x, y in points]})
    return {"shapes": clean}


class CommentSerializer(serializers.ModelSerializer):
    author = UserSummarySerializer(read_only=True)
    mentions = UserSummarySerializer(many=True, read_only=True)
    resolved_by = UserSummarySerializer(read_only=True)
    parent = serializers.PrimaryKeyRelatedField(queryset=Comment.objects.none(), allow_null=True, required=False)
    frame = serializers.IntegerField(min_value=0, allow_null=True, required=False)

    class Meta:
        model = Comment
        fields = ["id", "shot", "take", "parent", "author", "body", "mentions", "frame", "annotation", "resolved",
                  "resolved_by", "created_at", "updated_at"]
        #: ``resolved`` is set with PATCH (CommentUpdateSerializer); a new comment is open.
        read_only_fields = ["shot", "take", "resolved", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shot = self.context.get("shot")
        if shot is not None:
            self.fields["parent"].queryset = Comment.objects.filter(shot=shot)

    def validate_body(self, value):
        if not value.strip():
            raise serializers.ValidationError("A comment needs some text.")
        if len(value) > 10000:
            raise serializers.ValidationError("A comment is at most 10000 characters.")
        return value

    def validate_annotation(self, value):
        return validate_annotation(value)


class CommentUpdateSerializer(CommentSerializer):
    class Meta(CommentSerializer.Meta):
        read_only_fields = ["shot", "take", "parent", "frame", "created_at", "updated_at"]


class DiffOpSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["equal", "insert", "delete"])
    text = serializers.CharField()


class ParamChangeSerializer(serializers.Serializer):
    key = serializers.CharField()
    op = serializers.ChoiceField(choices=["added", "removed", "changed"])
    old = serializers.JSONField(required=False)
    new = serializers.JSONField(required=False)


class RevisionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AssetChangesSerializer(serializers.Serializer):
    added = NamedRefSerializer(many=True)
    removed = NamedRefSerializer(many=True)


class RevisionDiffSerializer(serializers.Serializer):
    """The shape of projects.diff.revision_diff, for the schema (word-level ops; one CJK
    character is one word)."""

    from_ = RevisionRefSerializer()
    to = RevisionRefSerializer()
    prompt = DiffOpSerializer(many=True)
    negative_prompt = DiffOpSerializer(many=True)
    params = ParamChangeSerializer(many=True)
    assets = AssetChangesSerializer()
    note = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class EventSerializer(serializers.Serializer):
    """The wire form of projects.events.event_message, for the schema."""

    seq = serializers.IntegerField()
    type = serializers.CharField()
    project = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = UserSummarySerializer(allow_null=True)
    data = serializers.JSONField()

    def to_representation(self, event):
        from .events import event_message

        return event_message(event)


class NotificationSerializer(serializers.ModelSerializer):
    actor = UserSummarySerializer(read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    shot_code = serializers.CharField(source="shot.code", read_only=True, default=None)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "project", "project_name", "shot", "shot_code", "actor", "text", "data", "read",
                  "read_at", "created_at"]

    def get_read(self, notification) -> bool:
        return notification.read_at is not None


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not attrs.get("ids"):
            raise serializers.ValidationError("Send the notification ids to mark read, or all: true.")
        return attrs


class WorkShotSerializer(ShotSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    sequence_code = serializers.CharField(source="sequence.code", read_only=True, default=None)
    current_take = BoardTakeSerializer(read_only=True)
    assignee = serializers.PrimaryKeyRelatedField(read_only=True)
    sequence = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta(ShotSerializer.Meta):
        fields = ShotSerializer.Meta.fields + ["project_name", "sequence_code"]
