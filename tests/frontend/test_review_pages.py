"""The shot, review and compare pages: membership scope (404 page for outsiders and for ids of
another project), what the boot data gives the scripts, and what each role is offered."""
import json
import re

import pytest
from django.urls import reverse

from projects.models import Role
from renders.models import RenderKind
from tests.factories import MembershipFactory, ProjectFactory, RevisionFactory, ShotFactory, TakeFactory, member

pytestmark = pytest.mark.django_db


def boot_of(response, element_id):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, f"no {element_id} in the page"
    return json.loads(match.group(1))


@pytest.fixture
def shot(project):
    return ShotFactory(project=project, code="SH0040", title="Boat at dawn")


@pytest.fixture
def video(shot):
    revision = RevisionFactory(shot=shot, number=1)
    return TakeFactory(shot=shot, project=shot.project, kind=RenderKind.VIDEO, fps=24, frame_count=72, duration_s=3,
                       revision=revision, media=f"projects/{shot.project_id}/takes/clip.mp4")


@pytest.fixture
def image(shot):
    return TakeFactory(shot=shot, project=shot.project)


def pages(project, shot, video, image):
    return [
        reverse("shot-page", args=[project.pk, shot.pk]),
        reverse("review-page", args=[project.pk, video.pk]),
        reverse("compare-page", args=[project.pk, video.pk, image.pk]),
    ]


def test_members_get_every_page(client, project, shot, video, image):
    client.force_login(member(project, Role.GUEST))
    for url in pages(project, shot, video, image):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.cookies.get("csrftoken"), "the scripts need the CSRF cookie to write"


def test_outsider_gets_the_404_page_for_every_page(client, project, shot, video, image, outsider):
    client.force_login(outsider)
    for url in pages(project, shot, video, image):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b'data-testid="not-found"' in response.content
        assert shot.code.encode() not in response.content


def test_ids_of_another_project_are_404_even_for_a_member_of_both(client, project, shot, video, image):
    other = ProjectFactory()
    other_shot = ShotFactory(project=other)
    other_take = TakeFactory(shot=other_shot, project=other)
    user = member(project, Role.DIRECTOR)
    client.force_login(user)
    assert client.get(reverse("shot-page", args=[project.pk, other_shot.pk])).status_code == 404
    assert client.get(reverse("review-page", args=[project.pk, other_take.pk])).status_code == 404
    assert client.get(reverse("compare-page", args=[project.pk, video.pk, other_take.pk])).status_code == 404
    # The same ids under their own project are fine once the user belongs there too.
    MembershipFactory(project=other, user=user, role=Role.GUEST)
    assert client.get(reverse("review-page", args=[other.pk, other_take.pk])).status_code == 200


def test_anonymous_is_sent_to_sign_in(client, project, shot, video, image):
    for url in pages(project, shot, video, image):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_review_boot_carries_the_take_and_the_role_capabilities(client, project, shot, video):
    reviewer = member(project, Role.REVIEWER)
    client.force_login(reviewer)
    response = client.get(reverse("review-page", args=[project.pk, video.pk]))
    boot = boot_of(response, "review-boot")
    assert boot["take"]["id"] == video.pk
    assert boot["take"]["fps"] == 24 and boot["take"]["frame_count"] == 72
    assert boot["take"]["media_url"].endswith("clip.mp4")
    assert boot["me"]["username"] == reviewer.username
    assert "review" in boot["project"]["capabilities"]
    assert "approve" not in boot["project"]["capabilities"]
    assert boot["last_seq"] == project.last_event_seq
    html = response.content.decode()
    assert "<video" in html and 'data-decision="approve"' in html


def test_shot_boot_lists_the_enabled_providers(client, project, shot):
    client.force_login(member(project, Role.ARTIST))
    boot = boot_of(client.get(reverse("shot-page", args=[project.pk, shot.pk])), "shot-boot")
    local = next(p for p in boot["providers"] if p["name"] == "local")
    assert set(local["kinds"]) == {"image", "video"}
    assert boot["shot"]["version"] == shot.version
    assert "edit_prompt" in boot["project"]["capabilities"]


def test_user_text_in_boot_data_cannot_break_out_of_the_script(client, project):
    shot = ShotFactory(project=project, code="SH9", title="</script><script>alert(1)</script>")
    client.force_login(member(project, Role.ARTIST))
    html = client.get(reverse("shot-page", args=[project.pk, shot.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html


def test_compare_boot_has_both_takes_in_order(client, project, shot, video, image):
    client.force_login(member(project, Role.GUEST))
    boot = boot_of(client.get(reverse("compare-page", args=[project.pk, image.pk, video.pk])), "compare-boot")
    assert [t["id"] for t in boot["takes"]] == [image.pk, video.pk]
    assert boot["shots"][str(shot.pk)]["code"] == "SH0040"
