"""Who may open a project socket: members by session cookie or token; nobody else gets a message."""
import pytest
from rest_framework.authtoken.models import Token
from websockets.exceptions import InvalidStatus

from projects.events import record_event
from projects.models import Role
from tests.factories import ProjectFactory, UserFactory, member
from tests.realtime.sockets import joined, open_socket


def refused(server, project_id, **kwargs) -> int:
    """Open a socket that must be refused at the handshake; return the HTTP status."""
    with pytest.raises(InvalidStatus) as info:
        open_socket(server, project_id, **kwargs)
    return info.value.response.status_code


def test_member_with_session_cookie_gets_session_then_events(server, project, artist):
    record_event(project, "shot.created", None, {"shot": 1})
    socket = open_socket(server, project.pk, user=artist)
    session = joined(socket)
    assert session["project"] == project.pk
    assert session["data"]["user"]["id"] == artist.pk
    assert session["data"]["role"] == Role.ARTIST
    assert session["data"]["last_seq"] == 1
    event = socket.recv()
    assert (event["seq"], event["type"], event["project"]) == (1, "shot.created", project.pk)
    assert event["data"] == {"shot": 1}
    assert set(event) == {"seq", "type", "project", "at", "actor", "data"}
    socket.close()


@pytest.mark.parametrize("how", ["query", "header"])
def test_member_with_token(server, project, reviewer, how):
    key = Token.objects.create(user=reviewer).key
    kwargs = {"token": key} if how == "query" else {"header_token": key}
    socket = open_socket(server, project.pk, **kwargs)
    assert joined(socket)["data"]["user"]["id"] == reviewer.pk
    socket.close()


def test_anonymous_non_member_and_wrong_token_are_refused_without_a_message(server, project, owner, outsider):
    other_project = ProjectFactory()
    assert refused(server, project.pk) == 403  # no cookie, no token
    assert refused(server, project.pk, user=outsider) == 403
    assert refused(server, project.pk, token="not-a-token") == 403
    # A wrong token is not rescued by a valid session cookie: the caller asked for the token's user.
    assert refused(server, project.pk, user=owner, token="not-a-token") == 403
    assert refused(server, other_project.pk, user=owner) == 403  # a project of others
    assert refused(server, 999_999, user=owner) == 403  # a project that does not exist looks the same
    inactive = member(project, Role.ARTIST)
    key = Token.objects.create(user=inactive).key
    inactive.is_active = False
    inactive.save()
    assert refused(server, project.pk, token=key) == 403
    assert refused(server, project.pk, user=inactive) == 403


def test_foreign_origin_is_refused(server, project, owner):
    assert refused(server, project.pk, user=owner, origin="http://evil.example") == 403
    # The same member from the studio's own origin is admitted.
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    socket.close()


def test_session_of_a_deleted_user_is_refused(server, project):
    user = UserFactory()
    from tests.servers import session_cookie  # made while the user exists

    cookie = session_cookie(user)
    user.delete()
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as info:
        connect(f"{server.ws_url}/ws/projects/{project.pk}/", origin=server.url,
                additional_headers={"Cookie": cookie}, open_timeout=5, legacy=True)
    assert info.value.response.status_code == 403


def test_a_script_without_origin_connects_with_its_token_only(server, project, reviewer, outsider):
    """Browsers always send Origin; a script sends none and authenticates with its token."""
    key = Token.objects.create(user=reviewer).key
    socket = open_socket(server, project.pk, token=key, script=True)
    assert joined(socket)["data"]["user"]["id"] == reviewer.pk
    socket.close()
    outsider_key = Token.objects.create(user=outsider).key
    assert refused(server, project.pk, token=outsider_key, script=True) == 403
    assert refused(server, project.pk, script=True) == 403
