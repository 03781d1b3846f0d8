"""Notifications reach their user live, on every open project page, with the unread count."""
from projects.models import Membership, Notification
from tests.factories import ProjectFactory, ShotFactory
from tests.realtime.sockets import joined, open_socket


def test_assignment_is_pushed_to_every_open_page_of_the_assignee(server, project, owner, artist, api):
    other_project = ProjectFactory()
    Membership.objects.create(project=other_project, user=artist, role="guest")
    shot = ShotFactory(project=project)
    board = open_socket(server, project.pk, user=artist)
    assert joined(board)["data"]["unread"] == 0
    elsewhere = open_socket(server, other_project.pk, user=artist)  # another project's page
    joined(elsewhere)
    director_page = open_socket(server, project.pk, user=owner)
    joined(director_page)

    response = api(owner).patch(f"/api/shots/{shot.pk}/", {"assignee": artist.pk, "version": shot.version},
                                format="json")
    assert response.status_code == 200, response.content

    for page in (board, elsewhere):
        pushed = page.wait_for_type("notification")
        assert pushed["data"]["kind"] == Notification.Kind.ASSIGNED
        assert (pushed["data"]["shot"], pushed["data"]["project"], pushed["data"]["unread"]) == (shot.pk, project.pk, 1)
        assert "seq" not in pushed
    # The shot change itself is an event for everyone; the notification only for the artist.
    director_page.wait_for(lambda m: m.get("type") == "shot.updated")
    assert not [m for m in director_page.messages if m["type"] == "notification"]

    # A second one counts up; after marking them read a reconnecting page starts from 0.
    api(owner).post(f"/api/shots/{shot.pk}/comments/", {"body": f"@{artist.username} please check"}, format="json")
    mention = board.wait_for_type("notification")
    assert (mention["data"]["kind"], mention["data"]["unread"]) == (Notification.Kind.MENTIONED, 2)
    api(artist).post("/api/notifications/read/", {"all": True}, format="json")
    # The artist's other open pages learn the new count at once (their badges follow).
    for page in (board, elsewhere):
        read = page.wait_for_type("notifications.read")
        assert read["data"]["unread"] == 0
    fresh = open_socket(server, project.pk, user=artist)
    assert joined(fresh)["data"]["unread"] == 0
    for page in (board, elsewhere, director_page, fresh):
        page.close()
