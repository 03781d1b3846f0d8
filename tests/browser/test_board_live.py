"""Two people on one board: the director starts a render from the board, the artist's board shows
its progress bar move and the new take's thumbnail appear, without a reload."""
import time

import pytest

from renders.models import RenderJob, Take

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL_IMAGES_LOADED = ("[...document.querySelectorAll('.shot-card img')]"
                     ".every((img) => img.complete && img.naturalWidth > 0)")


def wait_ready(page):
    page.wait_for_selector("#board-app[data-ready='true']")
    page.wait_for_selector("[data-role='live-state'][data-state='open']")


def test_director_renders_and_the_artists_board_follows_live(film, open_page, worker, artifacts):
    board = f"/p/{film.project.pk}/"
    artist = open_page(film.artist, path=board)
    director = open_page(film.director, path=board)
    wait_ready(artist)
    wait_ready(director)
    artist.evaluate("window.__sameDocument = true")  # gone if the page reloads

    shot = film.fresh
    artist_card = artist.locator(f".shot-card[data-shot-id='{shot.pk}']")
    assert artist_card.locator("[data-role='thumb'] img").count() == 0  # the clean placeholder
    assert artist_card.locator("[data-role='takes']").inner_text().strip() == "0"

    # The director selects the shot on the board and starts one image render.
    director.locator(f".shot-card[data-shot-id='{shot.pk}'] input[data-role='select']").check()
    director.wait_for_selector("[data-role='bulkbar']:not([hidden])")
    assert "1 shot selected" in director.locator("[data-role='selected-count']").inner_text()
    director.locator("[data-role='bulk-render']").click()
    director.wait_for_selector(".toast[data-kind='success']")

    # The artist's card shows a progress bar that moves.
    bar = artist_card.locator("[data-role='render'] [role='progressbar']")
    bar.wait_for(state="visible", timeout=20000)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = bar.get_attribute("aria-valuenow") if bar.count() else None
        if value is not None and (not seen or int(value) != seen[-1]):
            seen.append(int(value))
            if len(seen) == 2:
                artist.screenshot(path=str(artifacts / "board-rendering-1280.png"))
        if artist_card.locator("[data-role='thumb'] img").count():
            break
        time.sleep(0.1)
    assert len(seen) >= 2, f"the progress bar did not move: {seen}"
    assert seen == sorted(seen) and 0 < seen[-1] <= 100, seen

    # The new take's thumbnail replaces the placeholder, and the bar goes away.
    image = artist_card.locator("[data-role='thumb'] img")
    image.wait_for(state="visible", timeout=30000)
    artist.wait_for_function(
        "(card) => { const img = card.querySelector('[data-role=thumb] img');"
        " return img && img.complete && img.naturalWidth > 0; }",
        arg=artist_card.element_handle(),
    )
    artist_card.locator("[data-role='render']").wait_for(state="hidden")
    take = Take.objects.get(shot=shot)
    assert "/media/" in image.get_attribute("src")
    assert artist_card.locator(".take-chip").inner_text() == f"T{take.number}"
    assert artist_card.locator("[data-role='takes']").inner_text().strip() == "1"
    assert artist.evaluate("window.__sameDocument") is True, "the artist's page reloaded"
    assert RenderJob.objects.get(shot=shot).status == "succeeded"

    artist.screenshot(path=str(artifacts / "board-1280.png"))
    assert not artist.errors and not director.errors, artist.errors + director.errors


def test_board_updates_status_assignee_and_comment_counts_live(film, open_page):
    from projects import services
    from projects.models import Membership

    board = f"/p/{film.project.pk}/"
    artist = open_page(film.artist, path=board)
    wait_ready(artist)
    artist.evaluate("window.__sameDocument = true")
    shot = film.shots[3]
    card = artist.locator(f".shot-card[data-shot-id='{shot.pk}']")
    assert card.locator("[data-role='status']").inner_text() == "To do"

    director = Membership.objects.get(project=film.project, user=film.director)
    shot.refresh_from_db()
    services.update_shot(director, shot.pk, shot.version, {"status": "review", "assignee": film.reviewer})
    services.create_comment(director, shot=shot, body="Softer moonlight, please.")

    artist.wait_for_function(
        "(card) => card.querySelector('[data-role=status]').dataset.status === 'review'", arg=card.element_handle())
    card.locator("[data-role='comments']").filter(has_text="1").wait_for()
    assert "Reviewer Wang" in card.locator("[data-role='assignee'] .avatar").get_attribute("title")
    assert artist.evaluate("window.__sameDocument") is True
    assert not artist.errors, artist.errors


def test_filters_live_in_the_url_and_presence_shows_who_is_here(film, open_page):
    board = f"/p/{film.project.pk}/"
    artist = open_page(film.artist, path=f"{board}?status=review")
    wait_ready(artist)
    review = [s.pk for s in film.shots if s.status == "review"]
    shown = [int(x) for x in artist.locator(".shot-card").evaluate_all("(cards) => cards.map((c) => c.dataset.shotId)")]
    assert sorted(shown) == sorted(review)

    # Another status pill: the URL follows, the grid follows.
    artist.locator(".filter-pill[data-status='todo']").click()
    assert "status=todo" in artist.url
    shown = [int(x) for x in artist.locator(".shot-card").evaluate_all("(cards) => cards.map((c) => c.dataset.shotId)")]
    assert sorted(shown) == sorted(s.pk for s in film.shots if s.status == "todo")
    artist.locator("[data-role='assignee-filter']").select_option("me")
    assert "assignee=me" in artist.url
    shown = [int(x) for x in artist.locator(".shot-card").evaluate_all("(cards) => cards.map((c) => c.dataset.shotId)")]
    assert sorted(shown) == sorted(s.pk for s in film.shots if s.status == "todo" and s.assignee_id == film.artist.pk)
    artist.locator("[data-role='clear-filters']").click()
    assert artist.locator(".shot-card").count() == len(film.shots)

    # Presence: the director opens the board too, and the artist sees them in the header.
    director = open_page(film.director, path=board)
    wait_ready(director)
    artist.wait_for_selector(f"[data-role='presence-avatars'] [data-user-id='{film.director.pk}']")
    director.wait_for_selector(f"[data-role='presence-avatars'] [data-user-id='{film.artist.pk}']")
    director.close()
    artist.wait_for_selector(f"[data-role='presence-avatars'] [data-user-id='{film.director.pk}']", state="detached",
                             timeout=20000)
    assert not artist.errors, artist.errors


def test_board_at_tablet_width(film, open_page, artifacts):
    page = open_page(film.artist, path=f"/p/{film.project.pk}/", viewport={"width": 820, "height": 1180})
    page.wait_for_selector("#board-app[data-ready='true']")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the board scrolls sideways by {overflow}px at 820px"
    columns = page.evaluate("getComputedStyle(document.querySelector('.shot-grid')).gridTemplateColumns"
                            ".split(' ').length")
    assert columns >= 3
    page.wait_for_function(ALL_IMAGES_LOADED)
    page.screenshot(path=str(artifacts / "board-820.png"))
