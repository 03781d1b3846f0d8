"""Real-time tests run real WebSocket clients against a real uvicorn process on real Redis.

One uvicorn serves the whole directory (``server``); tests that need other settings or their
own Redis start their own with ``start_studio_server`` / ``redis_server``. Every test here
publishes on the shared server's Redis prefix, so what it records reaches that server.
"""
import pytest

from tests.servers import (  # noqa: F401 - fixtures
    SHARED_PREFIX,
    redis_server,
    shared_studio_server,
    start_celery_worker,
    start_studio_server,
    studio_server,
    use_redis_prefix,
)

#: Settings that make presence expiry and the live-link checks quick enough to test.
FAST = {"PRESENCE_TTL_S": "2", "PRESENCE_HEARTBEAT_S": "0.5", "REALTIME_CHECK_S": "0.5"}


@pytest.fixture(scope="session")
def shared_server_env():
    return FAST


@pytest.fixture(autouse=True)
def _isolated_redis_prefix(settings):
    """Overrides tests/conftest.py's per-test prefix: the shared server listens on one prefix.
    Keys stay apart between tests because they hold project ids, which are never reused."""
    use_redis_prefix(settings, SHARED_PREFIX)
    settings.PRESENCE_TTL_S = float(FAST["PRESENCE_TTL_S"])
    yield


@pytest.fixture
def server(shared_studio_server, transactional_db):  # noqa: F811 - the fixture, imported above
    """The studio on uvicorn, with quick presence expiry and live-link checks."""
    return shared_studio_server
