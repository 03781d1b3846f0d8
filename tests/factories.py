"""factory_boy factories for the domain; ``member(project, role)`` is the usual entry point."""
import factory
from django.contrib.auth import get_user_model

from projects.models import Asset, Comment, Membership, Project, PromptRevision, Role, Sequence, Shot, StylePreset
from renders.models import RenderJob, RenderKind, RenderStatus, Take

User = get_user_model()
PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(user, create, extracted, **kwargs):
        if create:
            user.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ARTIST


class SequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sequence

    project = factory.SubFactory(ProjectFactory)
    code = factory.Sequence(lambda n: f"SQ{n:02d}")
    order = factory.Sequence(lambda n: n)


class ShotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shot

    project = factory.SubFactory(ProjectFactory)
    sequence = factory.SubFactory(SequenceFactory, project=factory.SelfAttribute("..project"))
    code = factory.Sequence(lambda n: f"SH{n:04d}")
    title = factory.Sequence(lambda n: f"Shot {n}")
    order = factory.Sequence(lambda n: n * 10)


class RevisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromptRevision

    shot = factory.SubFactory(ShotFactory)
    number = factory.Sequence(lambda n: n + 1)
    prompt = "ink-wash mountains after rain, autumn dusk"


class PresetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StylePreset

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Preset {n}")
    prompt = "guofeng ink wash, soft light"


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    shot = factory.SubFactory(ShotFactory)
    project = factory.SelfAttribute("shot.project")
    body = "Looks good"


def member(project, role=Role.ARTIST, **user_fields):
    """A new user who is a member of ``project`` with ``role``."""
    user = UserFactory(**user_fields)
    MembershipFactory(project=project, user=user, role=role)
    return user


class AssetFactory(factory.django.DjangoModelFactory):
    """An asset row pointing at a stored name (no file is written; upload tests go through the API)."""

    class Meta:
        model = Asset

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Asset {n}")
    image = factory.LazyAttribute(lambda a: f"projects/{a.project.pk}/assets/asset.png")
    width = 64
    height = 64


class RenderJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RenderJob

    shot = factory.SubFactory(ShotFactory)
    project = factory.SelfAttribute("shot.project")
    provider = "local"
    kind = RenderKind.IMAGE
    status = RenderStatus.QUEUED


class TakeFactory(factory.django.DjangoModelFactory):
    """A finished image take (its files are names only unless a test writes them)."""

    class Meta:
        model = Take

    shot = factory.SubFactory(ShotFactory)
    project = factory.SelfAttribute("shot.project")
    number = factory.Sequence(lambda n: n + 1)
    kind = RenderKind.IMAGE
    media = factory.LazyAttribute(lambda t: f"projects/{t.project.pk}/takes/take{t.number}.png")
    thumbnail = factory.LazyAttribute(lambda t: f"projects/{t.project.pk}/takes/take{t.number}.thumb.jpg")
    width = 1280
    height = 720
    frame_count = 1
    provider = "local"


def image_bytes(width=32, height=24, color=(200, 40, 40), fmt="PNG") -> bytes:
    """A real, small encoded image (PNG, JPEG, GIF, BMP, WEBP...) made with Pillow."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()
