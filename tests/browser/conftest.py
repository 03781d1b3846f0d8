"""Playwright fixtures: Debian's Chromium driving the real studio (uvicorn + Celery, tests/servers.py).

``studio`` starts the ASGI server (and, for tests that render, ``worker`` a Celery worker) on
this test's database and Redis; ``open_page(user, lang=...)`` opens a page in its own browser
context, signed in as ``user`` with a session cookie made by Django's login code, so two users
are two independent browsers. Screenshots go to ``test-artifacts/`` (git-ignored).
"""
import os
from pathlib import Path

import pytest

from tests.servers import (  # noqa: F401 - fixtures used by the browser tests
    session_cookie,
    start_celery_worker,
    start_studio_server,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}


try:
    # One Playwright per process: a second sync Playwright cannot start beside the first, so the
    # review tests' session browser (review_fixtures.rv_browser) and this one are the same.
    from tests.browser.review_fixtures import _BROWSER as SHARED_BROWSER
except ImportError:  # pragma: no cover - the review fixtures are optional here
    SHARED_BROWSER: dict = {}


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """Module-scoped: Playwright's sync API keeps an event loop in this thread while it runs,
    so it must be stopped before the suites after tests/browser/ use the ORM."""
    if "browser" in SHARED_BROWSER:
        yield SHARED_BROWSER["browser"]
        return
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        SHARED_BROWSER["browser"] = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield SHARED_BROWSER["browser"]
        SHARED_BROWSER.pop("browser").close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


#: Playwright's sync API keeps an event loop in the test's thread, which Django's async-safety
#: check mistakes for async code calling the ORM. The test process may skip that check; the
#: servers it starts keep it (an empty value switches it back on).
SERVER_ENV = {"DJANGO_ALLOW_ASYNC_UNSAFE": ""}


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def studio(start_studio_server):
    """The running studio (uvicorn on 127.0.0.1), against this test's committed data."""
    return start_studio_server(**SERVER_ENV)


@pytest.fixture
def worker(start_celery_worker):
    return start_celery_worker(concurrency=2, **SERVER_ENV)


class PageErrors(list):
    """Uncaught script errors of a page: a test ends by asserting there were none."""


@pytest.fixture
def open_page(chromium, studio):
    """``open_page(user, lang="en", viewport=VIEWPORT, path="/")`` → a signed-in Playwright page.

    ``lang`` is sent as Accept-Language (it may be a list, "zh-CN,zh;q=0.9"); its first tag is
    the browser's locale."""
    contexts = []

    def open_(user=None, *, lang="en", viewport=None, path=None):
        context = chromium.new_context(
            viewport=viewport or VIEWPORT, locale=lang.split(",")[0].split(";")[0],
            extra_http_headers={"Accept-Language": lang},
            base_url=studio.url,
        )
        context.set_default_timeout(15000)
        if user is not None:
            name, value = session_cookie(user).split("=", 1)
            context.add_cookies([{"name": name, "value": value, "url": studio.url}])
        contexts.append(context)
        page = context.new_page()
        page.errors = PageErrors()
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        if path:
            page.goto(path)
        return page

    yield open_
    for context in contexts:
        context.close()


def _frame(seed: int, size=(320, 180)) -> bytes:
    """A small ink-wash-ish JPEG, different per seed, so boards in screenshots look like boards."""
    import io
    import random

    from PIL import Image, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, (226, 222, 212))
    draw = ImageDraw.Draw(image)
    for layer in range(4):
        shade = 190 - layer * 40 + rnd.randint(-10, 10)
        base = int(height * (0.45 + layer * 0.12))
        points = [(0, height)]
        for x in range(0, width + 20, 20):
            points.append((x, base - rnd.randint(0, int(height * 0.25))))
        points.append((width, height))
        draw.polygon(points, fill=(shade, shade + 4, shade + 2))
    draw.ellipse((width * 0.7, height * 0.12, width * 0.7 + 22, height * 0.12 + 22), fill=(196, 68, 52))
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


class Film:
    """A small project as the browser tests need it: people, sequences, shots, a few takes."""

    def __init__(self):
        from django.core.files.base import ContentFile

        from projects.models import Role, ShotStatus
        from tests.factories import (
            ProjectFactory,
            RevisionFactory,
            SequenceFactory,
            ShotFactory,
            TakeFactory,
            UserFactory,
            member,
        )

        self.project = ProjectFactory(
            name="Spring river · 春江花月夜", description="A three-minute guofeng short.",
            provider_settings={"local": {"latency_s": 3}},
        )
        self.director = member(self.project, Role.OWNER, username="director", first_name="林导演 Director Lin")
        self.artist = member(self.project, Role.ARTIST, username="artist", first_name="陈美术 Artist Chen")
        self.reviewer = member(self.project, Role.REVIEWER, username="reviewer", first_name="王审阅 Reviewer Wang")
        self.outsider = UserFactory(username="outsider")
        self.sequences = [
            SequenceFactory(project=self.project, code="SQ010", title="春江潮水 · The spring tide", order=1),
            SequenceFactory(project=self.project, code="SQ020", title="江天一色 · River and sky", order=2),
        ]
        statuses = [ShotStatus.APPROVED, ShotStatus.REVIEW, ShotStatus.IN_PROGRESS, ShotStatus.TODO, ShotStatus.CHANGES,
                    ShotStatus.IN_PROGRESS, ShotStatus.TODO, ShotStatus.TODO, ShotStatus.REVIEW, ShotStatus.TODO]
        titles = ["江潮连海 · Tide meets the sea", "明月共潮生 · Moon rises with the tide", "滟滟随波 · Glitter on the waves",
                  "芳甸 · Blossoming meadow", "月照花林 · Moonlit blossoms", "空里流霜 · Frost in the air",
                  "汀上白沙 · White sand", "江天一色 · One colour", "皎皎孤月 · The lone moon", "江畔何人 · Who by the river"]
        self.shots = []
        people = [self.artist, self.director, None, self.artist, self.reviewer]
        for i, (status, title) in enumerate(zip(statuses, titles)):
            shot = ShotFactory(
                project=self.project, sequence=self.sequences[0 if i < 6 else 1], code=f"SH{(i + 1) * 10:03d}",
                title=title, order=i, status=status, assignee=people[i % len(people)],
            )
            RevisionFactory(shot=shot, number=1, prompt=f"guofeng ink wash, {title}", author=self.director)
            self.shots.append(shot)
        # Real thumbnails for a few shots, so the board looks like one.
        for i, shot in enumerate(self.shots[:5]):
            take = TakeFactory(project=self.project, shot=shot, number=1, created_by=self.artist)
            take.thumbnail.save(f"t{shot.pk}.jpg", ContentFile(_frame(shot.pk)), save=True)
            shot.current_take = take
            shot.save()
        self.fresh = self.shots[6]  # no take yet: the one the tests render


@pytest.fixture
def film(transactional_db):
    return Film()
