"""Page access rules and what the shell's pages render, through Django's test client.

Every page needs a signed-in user; every project page resolves the project through the
membership scope, so a non-member (and a project, shot or take id that does not exist or
belongs to another project) gets exactly the studio's 404 page.
"""
import json
import re

import pytest
from django.urls import reverse

from projects.models import Membership, Project, Role, ShotStatus
from tests.factories import ProjectFactory, SequenceFactory, ShotFactory, TakeFactory, UserFactory, member

NOT_FOUND_MARK = 'data-testid="not-found"'


@pytest.fixture
def world(db):
    project = ProjectFactory(name="Spring river")
    director = member(project, Role.DIRECTOR)
    artist = member(project, Role.ARTIST)
    sequence = SequenceFactory(project=project)
    shot = ShotFactory(project=project, sequence=sequence)
    take = TakeFactory(project=project, shot=shot)
    other = TakeFactory(project=project, shot=shot)
    elsewhere = ShotFactory()  # a shot of another project
    foreign_take = TakeFactory(project=elsewhere.project, shot=elsewhere)
    return {
        "project": project, "director": director, "artist": artist, "outsider": UserFactory(),
        "shot": shot, "take": take, "other_take": other, "elsewhere": elsewhere, "foreign_take": foreign_take,
    }


def project_pages(w):
    """Every page under /p/<project>/ — the shell's and the review pages."""
    p = w["project"].pk
    return [
        reverse("board-page", args=[p]),
        reverse("members-page", args=[p]),
        reverse("activity-page", args=[p]),
        reverse("shot-page", args=[p, w["shot"].pk]),
        reverse("review-page", args=[p, w["take"].pk]),
        reverse("compare-page", args=[p, w["take"].pk, w["other_take"].pk]),
    ]


def personal_pages():
    return [reverse("project-list"), reverse("my-work-page"), reverse("notifications-page")]


def boot(response, element_id):
    pattern = rf'<script id="{element_id}" type="application/json">(.*?)</script>'
    match = re.search(pattern, response.content.decode(), re.S)
    assert match, f"no {element_id} on the page"
    return json.loads(match.group(1))


# --- who gets in ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for url in project_pages(world) + personal_pages():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_members_see_every_project_page(client, world):
    client.force_login(world["artist"])
    for url in project_pages(world) + personal_pages():
        response = client.get(url)
        assert response.status_code == 200, url
        assert NOT_FOUND_MARK not in response.content.decode(), url


def test_a_non_member_gets_the_404_page_on_every_project_page(client, world):
    client.force_login(world["outsider"])
    for url in project_pages(world):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "frontend/404.html" in [t.name for t in response.templates], url
        body = response.content.decode()
        assert NOT_FOUND_MARK in body, url
        assert world["project"].name not in body, f"{url} leaks the project's name"


def test_missing_or_foreign_ids_get_the_same_404_page(client, world):
    client.force_login(world["director"])
    p = world["project"].pk
    urls = [
        reverse("board-page", args=[987654]),
        reverse("members-page", args=[987654]),
        reverse("activity-page", args=[987654]),
        reverse("shot-page", args=[p, world["elsewhere"].pk]),  # a shot of another project
        reverse("review-page", args=[p, world["foreign_take"].pk]),
        reverse("compare-page", args=[p, world["take"].pk, world["foreign_take"].pk]),
        "/no/such/page/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert NOT_FOUND_MARK in response.content.decode(), url


def test_the_404_page_offers_the_way_back(client, world):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert reverse("login") in response.content.decode()
    client.force_login(world["artist"])
    response = client.get("/no/such/page/")
    assert reverse("project-list") in response.content.decode()


# --- sign in and out -----------------------------------------------------------------------------


def test_sign_in_and_out(client, world):
    from tests.factories import PASSWORD

    user = world["artist"]
    page = client.get(reverse("login"))
    assert page.status_code == 200 and 'name="username"' in page.content.decode()
    bad = client.post(reverse("login"), {"username": user.username, "password": "nope"})
    assert bad.status_code == 200 and 'class="form-error"' in bad.content.decode()
    good = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert good.status_code == 302 and good["Location"] == reverse("project-list")
    assert client.get(reverse("project-list")).status_code == 200
    out = client.post(reverse("logout"))
    assert out.status_code == 302
    assert client.get(reverse("project-list")).status_code == 302


# --- projects list ------------------------------------------------------------------------------------


def test_project_list_shows_only_my_projects_with_role_and_counts(client, world):
    mine = world["project"]
    ShotFactory(project=mine, status=ShotStatus.APPROVED)
    hidden = ProjectFactory(name="Someone else's film")
    client.force_login(world["artist"])
    response = client.get(reverse("project-list"))
    body = response.content.decode()
    assert mine.name in body
    assert hidden.name not in body
    cards = {p.pk: p for p in response.context["projects"]}
    assert set(cards) == {mine.pk}
    card = cards[mine.pk]
    assert card.role == Role.ARTIST
    assert card.shot_count == 2 and card.approved_count == 1 and card.member_count == 2
    assert f'data-project-id="{mine.pk}"' in body


def test_project_cards_show_the_first_current_takes(client, world):
    shot = world["shot"]
    shot.current_take = world["take"]
    shot.save()
    client.force_login(world["director"])
    card = client.get(reverse("project-list")).context["projects"][0]
    assert card.covers == [world["take"].thumbnail.url]


def test_project_list_queries_do_not_grow_with_projects(client, db, django_assert_max_num_queries):
    user = UserFactory()
    client.force_login(user)

    def add(n):
        for i in range(n):
            project = ProjectFactory()
            Membership.objects.create(project=project, user=user, role=Role.ARTIST)
            shot = ShotFactory(project=project)
            shot.current_take = TakeFactory(project=project, shot=shot)
            shot.save()

    add(2)
    with django_assert_max_num_queries(8) as small:
        client.get(reverse("project-list"))
    add(8)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("project-list"))
    assert len(response.context["projects"]) == 10


def test_any_user_creates_a_project_and_owns_it(client, db):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("project-list"), {"name": "  Moon over the pass  ", "description": "A short"})
    project = Project.objects.get(name="Moon over the pass")
    assert response.status_code == 302 and response["Location"] == reverse("board-page", args=[project.pk])
    assert Membership.objects.get(project=project, user=user).role == Role.OWNER


def test_creating_a_project_without_a_name_changes_nothing(client, db):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("project-list"), {"name": "   "})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert Project.objects.count() == 0


# --- project pages: what the scripts are given -------------------------------------------------------------


def test_board_boot_carries_role_capabilities_and_last_seq(client, world):
    client.force_login(world["artist"])
    data = boot(client.get(reverse("board-page", args=[world["project"].pk])), "board-boot")
    assert data["project"]["id"] == world["project"].pk
    assert data["role"] == "artist"
    assert "render" in data["capabilities"] and "manage_members" not in data["capabilities"]
    assert data["me"]["id"] == world["artist"].pk
    assert data["last_seq"] == world["project"].last_event_seq
    assert "provider_settings" not in data["project"]  # write-only, never shown


def test_shell_boot_names_the_user_and_the_open_project(client, world):
    client.force_login(world["artist"])
    board = boot(client.get(reverse("board-page", args=[world["project"].pk])), "shell-boot")
    assert board["user"]["id"] == world["artist"].pk
    assert board["project"]["id"] == world["project"].pk
    work = boot(client.get(reverse("my-work-page")), "shell-boot")
    assert work["project"] is None


def test_only_managers_get_the_invite_form(client, world):
    url = reverse("members-page", args=[world["project"].pk])
    client.force_login(world["director"])
    assert 'data-role="invite-form"' in client.get(url).content.decode()
    client.force_login(world["artist"])
    assert 'data-role="invite-form"' not in client.get(url).content.decode()


def invite_roles(response):
    return re.search(r'<select class="select" id="invite-role".*?</select>', response.content.decode(), re.S).group(0)


def test_a_director_cannot_offer_the_owner_role(client, world):
    url = reverse("members-page", args=[world["project"].pk])
    client.force_login(world["director"])
    form = invite_roles(client.get(url))
    assert 'value="owner"' not in form and 'value="director"' in form
    owner = member(world["project"], Role.OWNER)
    client.force_login(owner)
    form = invite_roles(client.get(url))
    assert 'value="owner"' in form


def test_project_tabs_mark_the_current_page(client, world):
    client.force_login(world["artist"])
    p = world["project"].pk
    for name in ("board-page", "members-page", "activity-page"):
        body = client.get(reverse(name, args=[p])).content.decode()
        current = re.findall(r'<a class="tab" href="([^"]+)" aria-current="page"', body)
        assert current == [reverse(name, args=[p])], name


def test_pages_load_only_local_assets(client, world):
    """No CDN: every script, stylesheet and image the shell references is served by the studio."""
    client.force_login(world["director"])
    for url in project_pages(world)[:3] + personal_pages() + [reverse("login")]:
        body = client.get(url).content.decode()
        for ref in re.findall(r'(?:src|href)="([^"]+)"', body):
            assert not re.match(r"^(https?:)?//", ref), f"{url} loads {ref}"


def test_shell_pages_are_well_formed_for_assistive_tech(client, world):
    """Unique ids (labels point at them) and a name on every icon-only button."""
    client.force_login(world["director"])
    urls = project_pages(world)[:3] + personal_pages() + ["/no/such/page/"]
    for url in urls:
        body = client.get(url).content.decode()
        ids = re.findall(r'\sid="([^"]+)"', body)
        assert len(ids) == len(set(ids)), f"{url}: duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}"
        for button in re.findall(r'<button[^>]*class="icon-btn[^"]*"[^>]*>', body):
            assert "aria-label=" in button, f"{url}: icon button without a label: {button}"
        assert re.search(r'<html lang="en">', body), url
        for label_for in re.findall(r'<label[^>]*\sfor="([^"]+)"', body):
            assert label_for in ids, f"{url}: label for missing #{label_for}"
