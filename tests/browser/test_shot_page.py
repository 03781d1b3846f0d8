"""The shot page in a real browser: racing prompt edits by two users (409 → their text shown,
ours kept, rebase), the revision diff, and a render with live progress and new takes appearing
in the strip without a reload (a real Celery worker running the local provider)."""
import pytest
from playwright.sync_api import expect

from projects.models import PromptRevision, Role
from renders.models import RenderJob, RenderStatus, Take
from tests.browser.review_fixtures import make_take, open_ready
from tests.factories import PresetFactory, ProjectFactory, RevisionFactory, SequenceFactory, ShotFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST = "ink-wash mountains after rain, a lone boat on a misty river, autumn dusk"
ARTIST_TEXT = "ink-wash mountains after rain, a lone fishing boat on a misty river at dawn"
DIRECTOR_TEXT = "ink-wash mountains in snow, a lone boat on a frozen river, blue hour"


@pytest.fixture
def shot_setup(transactional_db):
    # Small, short renders that take a couple of seconds each, so the progress bars are seen moving.
    project = ProjectFactory(name="Autumn River promo", fps=24, width=640, height=360,
                             provider_settings={"local": {"latency_s": 2}})
    director = member(project, Role.DIRECTOR, username="dina", first_name="Dina", last_name="Chen")
    artist = member(project, Role.ARTIST, username="ari", first_name="Ari", last_name="Wang")
    sequence = SequenceFactory(project=project, code="SQ010", title="Opening")
    shot = ShotFactory(project=project, sequence=sequence, code="SH0040", title="Boat at dawn", assignee=artist,
                       duration_s=2)
    RevisionFactory(shot=shot, number=1, author=artist, prompt=FIRST, note="first pass")
    PresetFactory(project=project, name="Guofeng ink", prompt="guofeng ink wash, xuan paper texture")
    return project, director, artist, shot


def editor(page):
    return page.locator("[data-role='prompt']")


def test_a_stale_prompt_edit_shows_the_conflict_and_keeps_the_typed_text(open_page, artifacts, shot_setup):
    project, director, artist, shot = shot_setup
    path = f"/p/{project.pk}/shots/{shot.pk}/"
    artist_page = open_ready(open_page, artist, path)
    director_page = open_ready(open_page, director, path)
    for page in (artist_page, director_page):
        assert editor(page).input_value() == FIRST
        assert "revision 1" in page.locator("[data-role='based-on']").text_content()

    # Both edit at once; the artist saves first, with a preset fragment appended by a click.
    editor(director_page).fill(DIRECTOR_TEXT)
    editor(artist_page).fill(ARTIST_TEXT)
    artist_page.locator("[data-role='presets'] button", has_text="Guofeng ink").click()
    assert editor(artist_page).input_value() == f"{ARTIST_TEXT}, guofeng ink wash, xuan paper texture"
    artist_page.locator("[data-role='note']").fill("dawn, not dusk")
    artist_page.locator("[data-role='save']").click()
    artist_page.locator("[data-role='editor-status']", has_text="Saved as revision 2").wait_for()

    # The director, still on revision 1, hears of revision 2 live (the typed text stays) and
    # saves anyway: 409, their text shown beside ours, nothing lost.
    director_page.locator("[data-role='newer']", has_text="Ari Wang saved revision 2").wait_for()
    assert editor(director_page).input_value() == DIRECTOR_TEXT
    director_page.locator("[data-role='save']").click()
    conflict = director_page.locator("[data-role='conflict']")
    conflict.wait_for()
    assert "Ari Wang saved revision 2 first." in conflict.locator("[data-role='conflict-title']").text_content()
    assert ARTIST_TEXT in conflict.locator("[data-role='conflict-prompt']").text_content()
    assert editor(director_page).input_value() == DIRECTOR_TEXT
    assert PromptRevision.objects.filter(shot=shot).count() == 2
    director_page.screenshot(path=artifacts / "shot-page-conflict.png")

    # Rebase keeps the director's text on top of revision 2; saving now works.
    director_page.locator("[data-role='conflict-rebase']").click()
    assert conflict.is_hidden()
    assert editor(director_page).input_value() == DIRECTOR_TEXT
    assert "revision 2" in director_page.locator("[data-role='based-on']").text_content()
    director_page.locator("[data-role='save']").click()
    director_page.locator("[data-role='editor-status']", has_text="Saved as revision 3").wait_for()
    latest = PromptRevision.objects.filter(shot=shot).order_by("-number").first()
    assert (latest.number, latest.prompt, latest.parent.number) == (3, DIRECTOR_TEXT, 2)

    # History: revision 3 against 2, word by word.
    director_page.locator("#tab-history").click()
    diff = director_page.locator("[data-role='diff']")
    diff.locator("ins", has_text="snow").wait_for()
    assert diff.locator("del", has_text="fishing").count() == 1
    assert diff.locator("ins", has_text="frozen").count() == 1
    assert not artist_page.errors and not director_page.errors


def test_a_render_shows_live_progress_and_its_takes_appear(open_page, artifacts, worker, shot_setup):
    project, director, artist, shot = shot_setup
    image = make_take(shot, artist, kind="image", width=640, height=360, seed=3)
    page = open_ready(open_page, artist, f"/p/{project.pk}/shots/{shot.pk}/")
    strip = page.locator("[data-role='strip']")
    assert strip.locator("[data-take]").count() == 1
    assert page.locator("[data-role='preview-title']").text_content() == "Take 1 (image)"

    # Video from the selected image take, two variants.
    page.locator("input[name='kind'][value='video']").check()
    assert "Animates take 1" in page.locator("[data-role='render-source']").text_content()
    page.locator("[data-role='render-variants']").fill("2")
    page.locator("[data-role='render-submit']").click()
    jobs = page.locator("[data-role='jobs'] .rv-job")
    expect(jobs).to_have_count(2, timeout=20_000)
    # The bars move while the worker renders (progress digests over the socket).
    page.wait_for_function("""() => [...document.querySelectorAll('.rv-job .progress')]
        .some((bar) => Number(bar.getAttribute('aria-valuenow')) > 0)""", timeout=30_000)
    page.screenshot(path=artifacts / "shot-page.png")
    # Both takes arrive in the strip, grouped as one render, without a reload.
    strip.locator("[data-take]").nth(2).wait_for(timeout=60_000)
    assert strip.locator(".rv-take-group", has_text="2 variants").count() == 1
    assert set(RenderJob.objects.filter(shot=shot).values_list("status", flat=True)) == {RenderStatus.SUCCEEDED}
    assert Take.objects.filter(shot=shot, kind="video", source_take=image).count() == 2
    assert not page.errors
