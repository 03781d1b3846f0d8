"""Every change writes one Event with the project's next ``seq``: no gap and no duplicate,
also with concurrent writers on PostgreSQL (threads, each with its own connection), and a
rolled-back change leaves no gap. ``GET .../events/?after=`` returns exactly the later ones."""
import threading

import pytest
from django.db import connection, transaction

from projects import services
from projects.events import record_event
from projects.models import Comment, Event, Membership, Project, Role
from tests.factories import ProjectFactory, ShotFactory, UserFactory

THREADS = 8
WRITES = 25

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL")


def run_threads(target, count=THREADS):
    barrier = threading.Barrier(count)
    errors = []

    def body(index):
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    assert not errors, errors


def seqs(project_id):
    return list(Event.objects.filter(project_id=project_id).order_by("seq").values_list("seq", flat=True))


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_consecutive_seqs():
    project = ProjectFactory()
    shot = ShotFactory(project=project)
    people = [UserFactory() for _ in range(THREADS)]
    for user in people:
        Membership.objects.create(project=project, user=user, role=Role.ARTIST)
    rolled_back = []

    def writer(index):
        membership = Membership.objects.select_related("user", "project").get(project=project, user=people[index])
        for n in range(WRITES):
            if index % 2:  # half through a real service (row + event + notifications in one transaction)
                services.create_comment(membership, shot=shot, body=f"writer {index} comment {n}")
            else:
                record_event(project.pk, "test.tick", people[index], {"writer": index, "n": n})
            if index == 0 and n % 5 == 0:  # and some changes that roll back after taking a seq
                try:
                    with transaction.atomic():
                        record_event(project.pk, "test.doomed", people[index], {"n": n})
                        raise RuntimeError("roll back")
                except RuntimeError:
                    rolled_back.append(n)

    run_threads(writer)

    total = THREADS * WRITES
    assert rolled_back
    assert seqs(project.pk) == list(range(1, total + 1))
    assert Project.objects.get(pk=project.pk).last_event_seq == total
    assert not Event.objects.filter(type="test.doomed").exists()
    assert Comment.objects.filter(shot=shot).count() == total // 2
    # each writer's own events are in its own order
    for index in range(0, THREADS, 2):
        ns = [e.data["n"] for e in Event.objects.filter(project=project, type="test.tick", actor=people[index]).order_by("seq")]
        assert ns == list(range(WRITES))


@pytest.mark.django_db(transaction=True)
def test_projects_count_independently():
    projects = [ProjectFactory() for _ in range(2)]

    def writer(index):
        for n in range(10):
            record_event(projects[index % 2].pk, "test.tick", None, {"n": n})

    run_threads(writer, count=4)
    for project in projects:
        assert seqs(project.pk) == list(range(1, 21))


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_gap():
    project = ProjectFactory()
    record_event(project, "a")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            record_event(project, "b")
            raise RuntimeError
    record_event(project, "c")
    assert list(Event.objects.filter(project=project).order_by("seq").values_list("seq", "type")) == [(1, "a"), (2, "c")]


def test_saving_a_stale_project_instance_does_not_rewind_the_counter(db):
    """The admin or a settings form saving a project it loaded earlier must not put
    last_event_seq back (the next event would reuse a seq and hit the unique constraint)."""
    project = ProjectFactory()
    stale = Project.objects.get(pk=project.pk)
    for _ in range(3):
        record_event(project, "test.tick")
    stale.name = "Renamed"
    stale.save()
    assert Project.objects.get(pk=project.pk).last_event_seq == 3
    assert record_event(project, "test.tick").seq == 4
    assert Project.objects.get(pk=project.pk).name == "Renamed"


# --- GET /api/projects/{id}/events/?after= ---------------------------------------------------


def test_events_after_a_seq_are_exactly_the_later_ones_in_order(project, guest, api):
    for n in range(12):
        record_event(project, "test.tick", None, {"n": n})
    client = api(guest)

    everything = client.get(f"/api/projects/{project.pk}/events/").json()
    assert everything["count"] == 12
    assert [e["seq"] for e in everything["results"]] == list(range(1, 13))

    later = client.get(f"/api/projects/{project.pk}/events/?after=7").json()
    assert [e["seq"] for e in later["results"]] == [8, 9, 10, 11, 12]
    assert [e["data"]["n"] for e in later["results"]] == [7, 8, 9, 10, 11]
    first = later["results"][0]
    assert set(first) == {"seq", "type", "project", "at", "actor", "data"}
    assert first["project"] == project.pk and first["type"] == "test.tick"

    assert client.get(f"/api/projects/{project.pk}/events/?after=12").json()["results"] == []


def test_events_carry_their_actor(project, director, api):
    record_event(project, "test.tick", director, {})
    event = api(director).get(f"/api/projects/{project.pk}/events/").json()["results"][0]
    assert event["actor"]["id"] == director.pk and event["actor"]["username"] == director.username


@pytest.mark.parametrize("after", ["abc", "1.5", "%20"])
def test_a_bad_after_is_a_readable_400(project, guest, api, after):
    response = api(guest).get(f"/api/projects/{project.pk}/events/?after={after}")
    assert response.status_code == 400
    assert "after" in response.json()["detail"]


def test_events_are_paginated_and_stay_in_order_across_pages(project, guest, api):
    for n in range(7):
        record_event(project, "test.tick", None, {"n": n})
    client = api(guest)
    page = client.get(f"/api/projects/{project.pk}/events/?after=2&page_size=3").json()
    assert page["count"] == 5 and page["previous"] is None
    seen = [e["seq"] for e in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [e["seq"] for e in page["results"]]
    assert seen == [3, 4, 5, 6, 7]
