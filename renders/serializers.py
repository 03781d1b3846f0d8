from rest_framework import serializers

from projects.serializers import UserSummarySerializer

from .models import RenderJob, RenderKind, Take


def file_url(field) -> str | None:
    return field.url if field else None


class TakeSerializer(serializers.ModelSerializer):
    media_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    poster_url = serializers.SerializerMethodField()
    reviewed_by = UserSummarySerializer(read_only=True)
    created_by = UserSummarySerializer(read_only=True)
    revision_number = serializers.IntegerField(source="revision.number", read_only=True, default=None)
    batch = serializers.UUIDField(source="job.batch", read_only=True, default=None)
    variant = serializers.IntegerField(source="job.variant", read_only=True, default=None)

    class Meta:
        model = Take
        fields = ["id", "project", "shot", "job", "batch", "variant", "number", "kind", "media_url", "thumbnail_url",
                  "poster_url", "content_type", "width", "height", "duration_s", "fps", "frame_count", "seed", "params",
                  "provider", "provider_job_id", "cost", "revision", "revision_number", "source_take", "review_status",
                  "review_note", "reviewed_by", "reviewed_at", "created_by", "created_at"]
        read_only_fields = fields

    def get_media_url(self, take) -> str | None:
        return file_url(take.media)

    def get_thumbnail_url(self, take) -> str | None:
        return file_url(take.thumbnail)

    def get_poster_url(self, take) -> str | None:
        return file_url(take.poster)


class TakeReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "changes", "reject"])
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class CurrentTakeSerializer(serializers.Serializer):
    take = serializers.IntegerField()


class RenderJobSerializer(serializers.ModelSerializer):
    created_by = UserSummarySerializer(read_only=True)
    take = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = RenderJob
        fields = ["id", "project", "shot", "revision", "source_take", "provider", "kind", "batch", "variant", "seed",
                  "params", "status", "progress", "message", "error", "provider_job_id", "attempts", "take",
                  "created_by", "created_at", "started_at", "finished_at", "heartbeat_at"]
        read_only_fields = fields


class RenderRequestSerializer(serializers.Serializer):
    """What a render request may say; renders.services checks it against the project and shot."""

    provider = serializers.CharField(max_length=50)
    kind = serializers.ChoiceField(choices=RenderKind.choices)
    variants = serializers.IntegerField(min_value=1, max_value=8, default=1)
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, required=False, allow_null=True, default=None,
                                    help_text="Base seed: variant i gets seed + i. Random seeds when omitted.")
    revision = serializers.IntegerField(required=False, allow_null=True, default=None,
                                        help_text="Prompt revision id; the shot's latest when omitted.")
    source_take = serializers.IntegerField(required=False, allow_null=True, default=None,
                                           help_text="Image take to animate (video).")
    params = serializers.DictField(required=False, default=dict,
                                   help_text="Overrides (width, height, fps, duration_s) and provider options.")


class BatchRenderRequestSerializer(serializers.Serializer):
    provider = serializers.CharField(max_length=50)
    kind = serializers.ChoiceField(choices=RenderKind.choices)
    variants = serializers.IntegerField(min_value=1, max_value=8, default=1)
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, required=False, allow_null=True, default=None)
    params = serializers.DictField(required=False, default=dict)
    shots = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False, max_length=500)
    sequence = serializers.IntegerField(required=False)

    def validate(self, attrs):
        if ("shots" in attrs) == ("sequence" in attrs):
            raise serializers.ValidationError("Send either shots (a list of shot ids) or sequence (a sequence id).")
        return attrs


class RenderJobsSerializer(serializers.Serializer):
    jobs = RenderJobSerializer(many=True)
