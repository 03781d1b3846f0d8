"""The frame around the pages: sign-in, the projects list, the notifications bell, members,
activity, my work, and the 404 page a non-member gets."""
import pytest

from projects import services
from projects.models import Membership, Notification, Project, Role
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def membership(film, user):
    return Membership.objects.get(project=film.project, user=user)


def test_sign_in_projects_and_create_one(film, open_page, artifacts):
    page = open_page(None, path="/")
    page.wait_for_url("**/login/?next=/")
    page.fill("#id_username", "artist")
    page.fill("#id_password", "wrong password")
    page.click("form.panel button[type=submit]")
    page.locator(".form-error").wait_for()  # after the POST comes back
    page.fill("#id_password", PASSWORD)
    page.click("form.panel button[type=submit]")
    page.wait_for_url("**/")
    card = page.locator(f".project-card[data-project-id='{film.project.pk}']")
    assert "Artist" in card.locator(".role-badge").inner_text()
    assert "10 shots" in card.inner_text() and "1 of 10 approved" in card.inner_text()
    page.wait_for_function("[...document.images].every((img) => img.complete && img.naturalWidth > 0)")
    page.screenshot(path=str(artifacts / "projects-1280.png"))

    page.fill("#id_name", "Moon over the pass")
    page.click("form.create-card button[type=submit]")
    page.wait_for_selector("#board-app[data-ready='true']")
    created = Project.objects.get(name="Moon over the pass")
    assert page.url.endswith(f"/p/{created.pk}/")
    assert page.locator("[data-role='empty']").is_visible()  # a clear empty state, not a blank page

    # The owner plans the first shot from the board: a new sequence and a shot in it.
    page.locator("[data-role='new-shot']").click()
    dialog = page.locator("dialog[data-role='new-shot-dialog']")
    assert dialog.locator("#new-shot-sequence").input_value() == "new"
    assert dialog.locator("#new-sequence-code").input_value() == "SQ010"
    assert dialog.locator("#new-shot-code").input_value() == "SH010"
    dialog.locator("#new-shot-title").fill("Moon over the pass")
    dialog.locator("button[type=submit]").click()
    card = page.locator(".shot-card", has_text="SH010")
    card.wait_for()
    assert "Moon over the pass" in card.inner_text()
    assert page.locator(".seq-code").all_inner_texts() == ["SQ010"]
    shot = created.shots.get()
    assert (shot.code, shot.sequence.code) == ("SH010", "SQ010")

    # The next one is suggested after it, in the same sequence; a duplicate code is refused readably.
    page.locator("[data-role='new-shot']").click()
    assert dialog.locator("#new-shot-code").input_value() == "SH020"
    dialog.locator("#new-shot-code").fill("SH010")
    dialog.locator("button[type=submit]").click()
    error = dialog.locator("[data-role='new-shot-error']")
    error.wait_for(state="visible")
    assert "already exists" in error.inner_text()
    assert created.shots.count() == 1
    assert not page.errors, page.errors


def test_the_bell_counts_new_notifications_live_and_marks_them_read(film, open_page):
    artist = open_page(film.artist, path=f"/p/{film.project.pk}/")
    artist.wait_for_selector("[data-role='live-state'][data-state='open']")
    badge = artist.locator("[data-role='notif-count']")
    assert badge.is_hidden()

    shot = film.shots[2]
    shot.refresh_from_db()
    services.update_shot(membership(film, film.director), shot.pk, shot.version, {"assignee": film.artist})

    badge.wait_for(state="visible")
    assert badge.inner_text() == "1"
    artist.locator("#notif-button").click()
    item = artist.locator("[data-role='notif-list'] .notif").first
    item.wait_for()
    assert f"assigned {shot.code} to you" in item.inner_text()
    assert f"/p/{film.project.pk}/shots/{shot.pk}/" in item.get_attribute("href")
    artist.locator("[data-role='notif-read-all']").click()
    badge.wait_for(state="hidden")
    assert not Notification.objects.filter(user=film.artist, read_at__isnull=True).exists()
    assert not artist.errors, artist.errors


def test_the_bell_polls_on_pages_without_a_socket(film, open_page):
    page = open_page(film.artist, path="/me/work/")
    page.wait_for_selector(".work-item")
    page.evaluate("window.__sameDocument = true")
    shot = film.shots[7]
    shot.refresh_from_db()
    services.update_shot(membership(film, film.director), shot.pk, shot.version, {"assignee": film.artist})
    # Polling is slow by design; the page also refreshes when it becomes visible again.
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.locator("[data-role='notif-count']").wait_for(state="visible")
    assert page.evaluate("window.__sameDocument") is True


def test_members_invite_change_role_and_remove_with_readable_errors(film, open_page, artifacts):
    newcomer = UserFactory(username="newcomer", first_name="Newcomer Zhou")
    page = open_page(film.director, path=f"/p/{film.project.pk}/members/")
    page.wait_for_selector("tr[data-username='artist']")

    page.fill("#invite-username", "nobody-by-that-name")
    page.click("[data-role='invite-form'] button[type=submit]")
    error = page.locator("[data-role='invite-error']")
    error.wait_for(state="visible")
    assert "No user named" in error.inner_text() and "{" not in error.inner_text()

    page.fill("#invite-username", "newcomer")
    page.select_option("#invite-role", "reviewer")
    page.click("[data-role='invite-form'] button[type=submit]")
    row = page.locator("tr[data-username='newcomer']")
    row.wait_for()
    assert Membership.objects.get(project=film.project, user=newcomer).role == Role.REVIEWER
    assert error.is_hidden()

    row.locator("select[data-role='member-role']").select_option("artist")
    page.locator(".toast[data-kind='success']", has_text="Newcomer Zhou is now Artist.").wait_for()
    assert Membership.objects.get(project=film.project, user=newcomer).role == Role.ARTIST
    page.screenshot(path=str(artifacts / "members-1280.png"))

    row.locator("[data-role='remove']").click()
    page.locator("dialog[open] .btn-danger").click()
    row.wait_for(state="detached")
    assert not Membership.objects.filter(project=film.project, user=newcomer).exists()
    assert not page.errors, page.errors


def test_an_artist_sees_members_read_only(film, open_page):
    page = open_page(film.artist, path=f"/p/{film.project.pk}/members/")
    page.wait_for_selector("tr[data-username='director']")
    assert page.locator("[data-role='invite-form']").count() == 0
    assert page.locator("select[data-role='member-role']").count() == 0
    assert page.locator("[data-role='remove']").count() == 0


def test_activity_reads_as_sentences_and_appends_live(film, open_page, artifacts):
    director = membership(film, film.director)
    shot = film.shots[1]
    services.create_comment(director, shot=shot, body="The moon should rise slower.")
    page = open_page(film.artist, path=f"/p/{film.project.pk}/activity/")
    page.wait_for_selector("#activity-app[data-ready='true']")
    page.wait_for_selector("[data-role='live-state'][data-state='open']")
    first = page.locator(".feed-item").first
    assert f"commented on {shot.code}" in first.inner_text()
    assert "The moon should rise slower." in first.inner_text()

    shot.refresh_from_db()
    services.update_shot(director, shot.pk, shot.version, {"status": "approved"})
    page.locator(".feed-item").first.filter(has_text=f"moved {shot.code} to Approved").wait_for()
    assert "{" not in page.locator("[data-role='feed']").inner_text()  # no raw JSON, ever
    page.screenshot(path=str(artifacts / "activity-1280.png"))
    assert not page.errors, page.errors


def test_my_work_lists_my_shots_across_projects(film, open_page):
    page = open_page(film.artist, path="/me/work/")
    page.wait_for_selector(".work-item")
    mine = {s.pk for s in film.shots if s.assignee_id == film.artist.pk and s.status != "approved"}
    shown = {int(x) for x in page.locator(".work-item").evaluate_all("(items) => items.map((i) => i.dataset.shotId)")}
    assert shown == mine


def test_a_non_member_gets_the_404_page(film, open_page):
    page = open_page(film.outsider)
    response = page.goto(f"/p/{film.project.pk}/")
    assert response.status == 404
    assert page.locator("[data-testid='not-found']").is_visible()
    assert film.project.name not in page.content()
    response = page.goto(f"/p/{film.project.pk}/shots/{film.shots[0].pk}/")
    assert response.status == 404 and page.locator("[data-testid='not-found']").is_visible()
