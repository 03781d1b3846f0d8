"""Catch-up without loss: every stored event after ``after``, then live ones; no gap, no duplicate."""
import time
from unittest import mock

import pytest
from django.db import transaction

from projects import events
from projects.events import record_event
from projects.models import Event
from tests.realtime.sockets import Writer, joined, open_socket


def test_every_seq_exactly_once_while_two_writers_race_the_connects(server, project, owner, artist):
    total = 300
    writers = [
        Writer(lambda i, who=who: record_event(project.pk, "comment.created", who, {"n": i}), total // 2, pause=0.002)
        for who in (owner, artist)
    ]
    for writer in writers:
        writer.start()
    while sum(w.done for w in writers) < total // 5:
        time.sleep(0.002)
    early = open_socket(server, project.pk, user=owner, after=0)  # connects mid-stream, from the start
    while sum(w.done for w in writers) < total // 2:
        time.sleep(0.002)
    middle = open_socket(server, project.pk, user=artist, after=40)  # a reconnect, mid-stream
    for writer in writers:
        writer.finish()
    late = open_socket(server, project.pk, user=owner, after=total - 10)  # after the stream

    assert early.wait_for_seq(total) == list(range(1, total + 1))
    assert middle.wait_for_seq(total) == list(range(41, total + 1))
    assert late.wait_for_seq(total) == list(range(total - 9, total + 1))
    # The two writers really interleaved (otherwise out-of-order publishing was never exercised).
    actors = list(Event.objects.filter(project=project).order_by("seq").values_list("actor_id", flat=True))
    assert sum(1 for a, b in zip(actors, actors[1:], strict=False) if a != b) > 10
    for socket in (early, middle, late):
        socket.close()


def test_rolled_back_change_publishes_nothing(server, project, owner):
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(project.pk, "shot.updated", owner, {"rolled": "back"})
        raise RuntimeError("the change fails after its event was written")
    record_event(project.pk, "shot.updated", owner, {"kept": True})

    event = socket.wait_for(lambda m: "seq" in m)
    # Had the rolled-back event been published, it would have arrived first with the same seq 1.
    assert (event["seq"], event["data"]) == (1, {"kept": True})
    assert all(m.get("data") != {"rolled": "back"} for m in socket.messages)
    socket.close()


def test_a_jump_in_seq_is_filled_from_the_log_in_order(server, project, owner):
    # Without gap filling, 4 would go out alone, and the live link's later top-up (which only
    # sends what is after the socket's last seq) would never send 1..3.
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    with mock.patch.object(events, "publish_event"):  # these three publishes are lost
        for n in range(3):
            record_event(project.pk, "comment.created", owner, {"n": n})
    record_event(project.pk, "comment.created", owner, {"n": 3})

    assert socket.wait_for_seq(4, timeout=3) == [1, 2, 3, 4]
    assert [m["data"]["n"] for m in socket.messages if "seq" in m] == [0, 1, 2, 3]
    socket.close()


def test_events_whose_publish_was_lost_arrive_without_a_later_event(server, project, owner):
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    with mock.patch.object(events, "publish_event"):  # e.g. Redis restarted between commit and publish
        for n in range(2):
            record_event(project.pk, "comment.created", owner, {"n": n})
    # Nothing follows; the live link compares the socket with the log and tops it up.
    assert socket.wait_for_seq(2, timeout=3) == [1, 2]
    socket.close()


def test_after_beyond_the_log_starts_over_from_the_log(server, project, owner):
    for n in range(3):
        record_event(project.pk, "comment.created", owner, {"n": n})
    socket = open_socket(server, project.pk, user=owner, after=1000)  # e.g. the database was reset
    session = joined(socket)
    assert (session["data"]["after"], session["data"]["last_seq"]) == (3, 3)
    record_event(project.pk, "comment.created", owner, {"n": 3})
    assert socket.wait_for_seq(4) == [4]
    socket.close()


def test_events_api_and_socket_send_the_same_message(server, project, owner, api):
    record_event(project.pk, "shot.updated", owner, {"shot": 7, "fields": ["status"]})
    socket = open_socket(server, project.pk, user=owner, after=0)
    joined(socket)
    pushed = socket.wait_for(lambda m: "seq" in m)
    listed = api(owner).get(f"/api/projects/{project.pk}/events/?after=0").json()["results"][0]
    assert pushed == listed
    assert pushed["actor"] == {"id": owner.pk, "username": owner.username, "name": owner.username}
    socket.close()
