"""Presence: who has the project open and which shot each is viewing; join, leave and expiry."""
import json
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from projects.events import project_group
from tests.factories import ProjectFactory, ShotFactory, member
from tests.realtime.sockets import joined, open_socket


def users_of(message) -> list[dict]:
    return message["data"]["users"]


def presence_where(predicate):
    return lambda m: m.get("type") == "presence" and predicate(users_of(m))


def ids(users) -> set[int]:
    return {user["id"] for user in users}


def test_join_view_and_leave_are_broadcast_to_members(server, project, owner, artist):
    shot = ShotFactory(project=project)
    first = open_socket(server, project.pk, user=owner)
    joined(first)
    assert ids(users_of(first.wait_for_type("presence"))) == {owner.pk}

    second = open_socket(server, project.pk, user=artist)
    joined(second)
    both = first.wait_for(presence_where(lambda users: ids(users) == {owner.pk, artist.pk}))
    artist_line = next(u for u in users_of(both) if u["id"] == artist.pk)
    assert set(artist_line) == {"id", "username", "name", "shot", "since"}
    assert (artist_line["username"], artist_line["shot"]) == (artist.username, None)
    assert "seq" not in both

    second.send({"type": "presence", "shot": shot.pk})
    viewing = first.wait_for(presence_where(lambda users: any(u["shot"] == shot.pk for u in users)))
    assert [u["id"] for u in users_of(viewing) if u["shot"] == shot.pk] == [artist.pk]

    second.close()
    assert ids(users_of(first.wait_for(presence_where(lambda users: len(users) == 1)))) == {owner.pk}
    first.close()


def test_a_shot_of_another_project_is_not_shown(server, project, owner):
    foreign_shot = ShotFactory()
    own_shot = ShotFactory(project=project)
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    socket.wait_for_type("presence")
    socket.send({"type": "presence", "shot": foreign_shot.pk})
    socket.send({"type": "presence", "shot": "1; DROP TABLE"})
    socket.send({"type": "presence", "shot": own_shot.pk})
    update = socket.wait_for_type("presence")
    assert [u["shot"] for u in users_of(update)] == [own_shot.pk]  # the bad ones changed nothing
    socket.close()


def test_a_client_that_stops_heartbeating_expires(server, project, owner, artist):
    """PRESENCE_TTL_S is 2 s on this server: the silent artist is swept by the owner's heartbeats."""
    watcher = open_socket(server, project.pk, user=owner)
    joined(watcher)
    before_join = time.monotonic()
    silent = open_socket(server, project.pk, user=artist)  # connected, but never heartbeats
    joined(silent)
    watcher.wait_for(presence_where(lambda users: ids(users) == {owner.pk, artist.pk}))

    gone = None
    while gone is None and time.monotonic() - before_join < 8:
        watcher.send({"type": "heartbeat"})
        try:
            gone = watcher.wait_for(presence_where(lambda users: ids(users) == {owner.pk}), timeout=0.3)
        except TimeoutError:
            pass
    assert gone is not None, "the silent client never expired"
    assert time.monotonic() - before_join >= 2.0  # not dropped before its TTL (2 s) ran out

    silent.send({"type": "heartbeat"})  # it comes back as soon as it shows a sign of life
    watcher.wait_for(presence_where(lambda users: ids(users) == {owner.pk, artist.pk}))
    watcher.close()
    silent.close()


def test_presence_is_per_project_and_per_person(server, project, owner):
    other = ProjectFactory()
    outsider_of_project = member(other)
    elsewhere = open_socket(server, other.pk, user=outsider_of_project)
    joined(elsewhere)
    tab1 = open_socket(server, project.pk, user=owner)
    joined(tab1)
    tab2 = open_socket(server, project.pk, user=owner)  # the same person in two tabs: one line
    joined(tab2)
    tab1.wait_for(presence_where(lambda users: len(users) == 1))
    assert ids(users_of(elsewhere.wait_for_type("presence"))) == {outsider_of_project.pk}
    tab2.close()
    tab1.send({"type": "heartbeat"})
    time.sleep(0.3)
    # Nobody in the other project ever saw the owner.
    try:
        while True:
            elsewhere.recv(0.2)
    except TimeoutError:
        pass
    assert all(ids(users_of(m)) == {outsider_of_project.pk} for m in elsewhere.messages if m["type"] == "presence")
    tab1.close()
    elsewhere.close()


def test_presence_snapshots_are_coalesced_and_never_go_back(server, project, owner):
    """A burst of snapshots (a team opening the project at once) reaches a socket as at most
    ~2 lists a second, the newest last; a snapshot older than one already sent is dropped."""
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    socket.wait_for_type("presence")
    layer = get_channel_layer()
    newest = time.time_ns() // 1000 + 10**9  # versions above any real one (Redis clock, µs)

    def snapshot(version, label):
        text = json.dumps({"type": "presence", "project": project.pk, "data": {"users": [], "label": label}})
        async_to_sync(layer.group_send)(project_group(project.pk),
                                        {"type": "studio.presence", "version": version, "text": text})

    started = time.monotonic()
    for n in range(20):
        snapshot(newest + n, f"v{n}")
    snapshot(newest - 1, "stale")
    labels = []
    while "v19" not in labels:
        labels.append(socket.wait_for_type("presence", timeout=3)["data"]["label"])
    assert "stale" not in labels
    assert len(labels) <= (time.monotonic() - started) * 2 + 1, labels
    with pytest.raises(TimeoutError):
        socket.wait_for_type("presence", timeout=0.8)  # nothing after the newest
    socket.close()
