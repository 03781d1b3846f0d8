"""A project with one of everything, for the scope, role and contract tests of the API."""
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from projects.events import record_event
from projects.models import Membership, Project, Role
from renders.models import RenderStatus
from tests.factories import (
    AssetFactory,
    CommentFactory,
    PresetFactory,
    RenderJobFactory,
    RevisionFactory,
    SequenceFactory,
    ShotFactory,
    TakeFactory,
    member,
)

User = get_user_model()


@dataclass
class World:
    project: Project
    users: dict  # role -> user (plus "owner2", "other_guest")
    sequence: object
    shot: object  # assigned to the artist
    other_shot: object  # unassigned
    rev1: object
    rev2: object
    take: object  # a video take of ``shot``, 48 frames
    take_comment: object
    shot_comment: object
    asset: object
    preset: object
    job: object  # an active render job
    media_name: str

    def membership(self, key):
        return Membership.objects.get(project=self.project, user=self.users[key])


@pytest.fixture
def browser():
    """``browser(user)`` → a Django test client signed in with a session (as the media view
    sees a person; APIClient.force_authenticate reaches DRF views only). None: anonymous."""
    from django.test import Client

    def make(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 at its production cost is ~0.3 s a user; these tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, project):
    users = {role.value: member(project, role) for role in Role}
    users["owner2"] = member(project, Role.OWNER)
    users["other_guest"] = member(project, Role.GUEST)
    sequence = SequenceFactory(project=project, code="SQ01")
    shot = ShotFactory(project=project, sequence=sequence, code="SH010", assignee=users["artist"])
    other_shot = ShotFactory(project=project, sequence=sequence, code="SH020")
    rev1 = RevisionFactory(shot=shot, number=1, prompt="moonlight over the river", author=users["artist"])
    rev2 = RevisionFactory(shot=shot, number=2, prompt="moonlight over the frozen river", author=users["artist"],
                           parent=rev1)
    job = RenderJobFactory(shot=shot, status=RenderStatus.RUNNING, progress=0.5, created_by=users["artist"])
    take = TakeFactory(shot=shot, number=1, kind="video", revision=rev2, frame_count=48, fps=24, duration_s=2,
                       created_by=users["artist"])
    media_name = default_storage.save(take.media.name, ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64))
    assert media_name == take.media.name
    take_comment = CommentFactory(shot=shot, take=take, author=users["reviewer"], body="soften the mist", frame=12)
    shot_comment = CommentFactory(shot=shot, author=users["reviewer"], body="the boat is too big")
    asset = AssetFactory(project=project, name="Li Bai")
    preset = PresetFactory(project=project)
    record_event(project, "test.seeded", users["owner"], {})
    return World(project=project, users=users, sequence=sequence, shot=shot, other_shot=other_shot, rev1=rev1,
                 rev2=rev2, take=take, take_comment=take_comment, shot_comment=shot_comment, asset=asset,
                 preset=preset, job=job, media_name=media_name)
