"""A removed member loses their open sockets at once, and cannot open a new one."""
from unittest import mock

import pytest
from websockets.exceptions import InvalidStatus

from projects import events
from projects.models import Membership
from tests.factories import ProjectFactory
from tests.realtime.sockets import joined, open_socket


def test_removed_member_socket_is_closed_with_4403(server, project, owner, artist, api):
    other_project = ProjectFactory()
    Membership.objects.create(project=other_project, user=artist, role="artist")
    removed_page = open_socket(server, project.pk, user=artist)
    joined(removed_page)
    unaffected_page = open_socket(server, other_project.pk, user=artist)  # still a member there
    joined(unaffected_page)
    director_page = open_socket(server, project.pk, user=owner)
    joined(director_page)
    director_page.wait_for(lambda m: m["type"] == "presence" and len(m["data"]["users"]) == 2)

    membership = Membership.objects.get(project=project, user=artist)
    response = api(owner).delete(f"/api/projects/{project.pk}/members/{membership.pk}/")
    assert response.status_code == 204, response.content

    assert removed_page.wait_closed() == 4403
    removal = [m for m in removed_page.messages if m.get("type") == "member.removed"]
    assert [m["data"]["user"] for m in removal] == [artist.pk]  # told why, then nothing more
    assert removed_page.messages[-1]["type"] == "member.removed"

    director_page.wait_for(lambda m: m.get("type") == "member.removed")
    gone = director_page.wait_for(lambda m: m["type"] == "presence" and len(m["data"]["users"]) == 1)
    assert gone["data"]["users"][0]["id"] == owner.pk

    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, project.pk, user=artist, after=0)
    assert refused.value.response.status_code == 403

    unaffected_page.send({"type": "heartbeat"})
    assert unaffected_page.wait_for_type("presence")  # still open and served
    unaffected_page.close()
    director_page.close()


def test_removal_whose_publish_was_lost_still_closes_the_socket(server, project, owner, artist, api):
    """The live link tops the socket up from the log, where the removal is, and it closes."""
    page = open_socket(server, project.pk, user=artist)
    joined(page)
    membership = Membership.objects.get(project=project, user=artist)
    with mock.patch.object(events, "publish_event"):  # Redis lost the message
        assert api(owner).delete(f"/api/projects/{project.pk}/members/{membership.pk}/").status_code == 204
    assert page.wait_closed(timeout=5) == 4403
    assert page.messages[-1]["type"] == "member.removed"


def test_deleting_the_project_closes_its_sockets(server, project, owner, api):
    page = open_socket(server, project.pk, user=owner)
    joined(page)
    assert api(owner).delete(f"/api/projects/{project.pk}/").status_code == 204
    assert page.wait_closed(timeout=5) == 4403
