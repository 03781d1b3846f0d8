"""List endpoints stay at a constant number of queries as a project grows (pinned).

Each list is measured on a small project and on one ten times larger, with everything the
rows show: sequences, assignees, revisions, comments, takes (current ones with thumbnails),
active render jobs. The count must be identical at both sizes and equal to the pinned one.
"""
import pytest

from projects.models import Role
from renders.models import RenderStatus
from tests.factories import (
    CommentFactory,
    ProjectFactory,
    RenderJobFactory,
    RevisionFactory,
    SequenceFactory,
    ShotFactory,
    TakeFactory,
    member,
)

SMALL, LARGE = 3, 30

#: Pinned counts. If one changes, the list lost (or gained) a query per request, not per row.
#: board: membership, shots (with their annotations), active render jobs, sequences.
BOARD_QUERIES = 4
#: shot list: membership, count, page.
SHOT_LIST_QUERIES = 3
#: take list: shot (scoped), membership, count, page.
TAKE_LIST_QUERIES = 4
#: my work: count, page.
MY_WORK_QUERIES = 2


def grow(project, people, shots: int):
    """A project with ``shots`` shots across 3 sequences, each with what a real board shows."""
    sequences = [SequenceFactory(project=project) for _ in range(3)]
    made = []
    for index in range(shots):
        assignee = people[index % len(people)]
        shot = ShotFactory(project=project, sequence=sequences[index % 3], assignee=assignee,
                           due_date=f"2030-01-{index % 28 + 1:02d}" if index % 4 else None)
        revisions = [RevisionFactory(shot=shot, number=n, author=assignee) for n in (1, 2)]
        takes = [TakeFactory(shot=shot, number=n, revision=revisions[-1], created_by=assignee) for n in (1, 2)]
        shot.current_take = takes[-1]
        shot.save(update_fields=["current_take"])
        CommentFactory(shot=shot, author=assignee)
        CommentFactory(shot=shot, take=takes[0], author=assignee, frame=0)
        RenderJobFactory(shot=shot, revision=revisions[-1], status=RenderStatus.RUNNING, progress=0.3)
        RenderJobFactory(shot=shot, revision=revisions[-1], status=RenderStatus.SUCCEEDED)
        made.append(shot)
    return made


@pytest.fixture
def studio(db):
    """Two projects, small and large, with the same crew (who also work elsewhere)."""
    small, large = ProjectFactory(), ProjectFactory()
    viewer = member(small, Role.ARTIST)
    large.memberships.create(user=viewer, role=Role.ARTIST)
    crew = [viewer]
    for role in (Role.DIRECTOR, Role.ARTIST):
        user = member(small, role)
        large.memberships.create(user=user, role=role)
        crew.append(user)
    return {"viewer": viewer, "crew": crew, "small": (small, grow(small, crew, SMALL)),
            "large": (large, grow(large, crew, LARGE))}


def measure(django_assert_num_queries, client, url, expected):
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response.json()


def test_board(studio, api, django_assert_num_queries):
    client = api(studio["viewer"])
    for size in ("small", "large"):
        project, shots = studio[size]
        body = measure(django_assert_num_queries, client, f"/api/projects/{project.pk}/board/", BOARD_QUERIES)
        assert len(body["shots"]) == len(shots)
        row = body["shots"][0]
        assert row["comment_count"] == 2 and row["take_count"] == 2
        assert row["latest_revision"]["number"] == 2
        assert [job["status"] for job in row["active_renders"]] == ["running"]
        assert row["current_take"]["thumbnail_url"].endswith(".thumb.jpg")
        assert row["assignee"]["username"]
        assert len(body["sequences"]) == 3


def test_shot_list(studio, api, django_assert_num_queries):
    client = api(studio["viewer"])
    for size in ("small", "large"):
        project, shots = studio[size]
        body = measure(django_assert_num_queries, client, f"/api/projects/{project.pk}/shots/", SHOT_LIST_QUERIES)
        assert body["count"] == len(shots) and len(body["results"]) == len(shots)
        filtered = measure(django_assert_num_queries, client,
                           f"/api/projects/{project.pk}/shots/?assignee=me&status=todo", SHOT_LIST_QUERIES)
        assert filtered["count"] == len([s for s in shots if s.assignee_id == studio["viewer"].pk])


def test_take_list(studio, api, django_assert_num_queries):
    client = api(studio["viewer"])
    project, shots = studio["large"]
    # grow one shot's takes tenfold: the take list must not care
    few, many = shots[0], shots[1]
    for number in range(3, 3 + 18):
        TakeFactory(shot=many, number=number, revision=many.revisions.first(), created_by=studio["crew"][1])
    for shot, count in ((few, 2), (many, 20)):
        body = measure(django_assert_num_queries, client, f"/api/shots/{shot.pk}/takes/", TAKE_LIST_QUERIES)
        assert body["count"] == count
        assert body["results"][0]["revision_number"] == 2 and body["results"][0]["created_by"]["username"]


def test_my_work(studio, api, django_assert_num_queries):
    small, small_shots = studio["small"]
    large, large_shots = studio["large"]
    # a person assigned only in the small project, then in both
    only_small = member(small, Role.ARTIST)
    for shot in small_shots:
        shot.assignee = only_small
        shot.save(update_fields=["assignee"])
    body = measure(django_assert_num_queries, api(only_small), "/api/me/work/", MY_WORK_QUERIES)
    assert body["count"] == SMALL
    large.memberships.create(user=only_small, role=Role.ARTIST)
    for shot in large_shots:
        shot.assignee = only_small
        shot.save(update_fields=["assignee"])
    body = measure(django_assert_num_queries, api(only_small), "/api/me/work/", MY_WORK_QUERIES)
    assert body["count"] == SMALL + LARGE
    assert {row["project_name"] for row in body["results"]} == {small.name, large.name}
