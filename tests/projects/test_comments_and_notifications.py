"""Comments on a frame with vector annotations, threads and @mentions; notifications;
my work across projects."""
import datetime

import pytest

from projects.models import Comment, Notification, Role, Shot
from tests.factories import ProjectFactory, ShotFactory, UserFactory, member

ARROW = {"shapes": [{"tool": "arrow", "color": "#FF3B30", "width": 3, "points": [[0.1, 0.2], [0.55, 0.5]]}]}


def post_comment(client, take, **body):
    return client.post(f"/api/takes/{take.pk}/comments/", body, format="json")


# --- frames and annotations -----------------------------------------------------------------


def test_a_comment_on_a_frame_with_a_drawing(world, api):
    response = post_comment(api(world.users["reviewer"]), world.take, body="the arrow: mist here", frame=36,
                            annotation=ARROW)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["frame"] == 36 and body["take"] == world.take.pk and body["shot"] == world.shot.pk
    assert body["annotation"]["shapes"][0]["color"] == "#ff3b30"  # normalised
    assert body["annotation"]["shapes"][0]["points"] == [[0.1, 0.2], [0.55, 0.5]]
    listing = api(world.users["guest"]).get(f"/api/takes/{world.take.pk}/comments/?frame=36").json()
    assert [c["id"] for c in listing["results"]] == [body["id"]]


def test_take_comments_come_in_frame_order(world, api):
    client = api(world.users["reviewer"])
    for frame in (40, 2, 20):
        post_comment(client, world.take, body=f"at {frame}", frame=frame)
    frames = [c["frame"] for c in client.get(f"/api/takes/{world.take.pk}/comments/").json()["results"]]
    assert frames == [2, 12, 20, 40]  # 12 is the world's own comment


@pytest.mark.parametrize("annotation", [
    {"shapes": [{"tool": "arrow", "points": [[0.1, 0.2], [1.2, 0.5]]}]},
    {"shapes": [{"tool": "arrow", "points": [[-0.01, 0.2], [0.5, 0.5]]}]},
    {"shapes": [{"tool": "pen", "points": [[0.1, "x"]]}]},
    {"shapes": [{"tool": "pen", "points": [[0.1, 0.2, 0.3]]}]},
    {"shapes": [{"tool": "laser", "points": [[0.1, 0.2], [0.3, 0.4]]}]},
    {"shapes": [{"tool": "rect", "points": [[0.1, 0.2]]}]},
    {"shapes": [{"tool": "pen", "color": "red", "points": [[0.1, 0.2]]}]},
    {"shapes": [{"tool": "pen", "width": 0, "points": [[0.1, 0.2]]}]},
    {"shapes": "arrow"},
    ["not", "an", "object"],
])
def test_an_annotation_outside_the_frame_or_malformed_is_a_400(world, api, annotation):
    response = post_comment(api(world.users["reviewer"]), world.take, body="x", frame=3, annotation=annotation)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("annotation: ")
    assert not Comment.objects.filter(body="x").exists()


def test_too_many_points_is_a_400(world, api):
    shape = {"tool": "pen", "points": [[0.5, 0.5]] * 5001}
    response = post_comment(api(world.users["reviewer"]), world.take, body="x", annotation={"shapes": [shape]})
    assert response.status_code == 400 and "5000 points" in response.json()["detail"]


@pytest.mark.parametrize(("frame", "status"), [(0, 201), (47, 201), (48, 400), (500, 400), (-1, 400)])
def test_frames_run_from_0_to_the_last_frame_of_the_take(world, api, frame, status):
    response = post_comment(api(world.users["reviewer"]), world.take, body="x", frame=frame)
    assert response.status_code == status
    if frame == 48:
        assert "past the end" in response.json()["detail"] and "48 frames" in response.json()["detail"]


def test_replies_stay_on_the_same_take(world, api):
    from tests.factories import TakeFactory

    client = api(world.users["artist"])
    reply = post_comment(client, world.take, body="done", parent=world.take_comment.pk)
    assert reply.status_code == 201 and reply.json()["parent"] == world.take_comment.pk
    other_take = TakeFactory(shot=world.shot, number=7)
    response = post_comment(client, other_take, body="done", parent=world.take_comment.pk)
    assert response.status_code == 400 and "parent" in response.json()
    # a comment of another shot is not even a choice
    foreign = Comment.objects.create(project=world.project, shot=world.other_shot, body="elsewhere")
    response = post_comment(client, world.take, body="x", parent=foreign.pk)
    assert response.status_code == 400


def test_resolving_and_editing(world, api):
    url = f"/api/takes/{world.take.pk}/comments/{world.take_comment.pk}/"
    response = api(world.users["director"]).patch(url, {"resolved": True}, format="json")
    assert response.status_code == 200
    assert response.json()["resolved"] is True and response.json()["resolved_by"]["id"] == world.users["director"].pk
    author = api(world.users["reviewer"])
    response = author.patch(url, {"body": "soften the mist a lot", "annotation": ARROW}, format="json")
    assert response.status_code == 200 and response.json()["body"] == "soften the mist a lot"
    response = author.patch(url, {"annotation": {"shapes": [{"tool": "pen", "points": [[2, 2]]}]}}, format="json")
    assert response.status_code == 400
    frame = author.patch(url, {"frame": 1}, format="json")
    assert frame.status_code == 200 and frame.json()["frame"] == 12  # the frame is fixed once written


def test_a_no_op_comment_patch_writes_no_event(world, api):
    from projects.models import Event

    before = Event.objects.count()
    url = f"/api/shots/{world.shot.pk}/comments/{world.shot_comment.pk}/"
    response = api(world.users["reviewer"]).patch(url, {"body": world.shot_comment.body}, format="json")
    assert response.status_code == 200
    assert Event.objects.count() == before


# --- @mentions and notifications ------------------------------------------------------------


def test_mentions_notify_members_only(world, api):
    outsider = UserFactory(username="wang.wei")
    director = world.users["director"]
    artist = world.users["artist"]
    body = (f"@{artist.username} please fix; cc @{director.username}. Also @{outsider.username} "
            f"and mail@{artist.username}.example and @{world.users['reviewer'].username}")
    response = post_comment(api(world.users["reviewer"]), world.take, body=body, frame=5)
    assert response.status_code == 201
    mentioned = {m["id"] for m in response.json()["mentions"]}
    assert mentioned == {artist.pk, director.pk}  # not the outsider, not the author, not an e-mail address
    notes = Notification.objects.filter(kind="mentioned")
    assert {n.user_id for n in notes} == {artist.pk, director.pk}
    note = notes.get(user=artist)
    assert note.shot_id == world.shot.pk and note.data["frame"] == 5 and note.data["take"] == world.take.pk
    assert world.users["reviewer"].username in note.text
    assert not Notification.objects.filter(user=outsider).exists()


def test_assignment_notifies_the_assignee(world, api):
    artist = world.users["artist"]
    shot = Shot.objects.get(pk=world.other_shot.pk)
    response = api(world.users["director"]).patch(f"/api/shots/{shot.pk}/",
                                                  {"assignee": artist.pk, "version": shot.version}, format="json")
    assert response.status_code == 200
    note = Notification.objects.get(user=artist, kind="assigned")
    assert note.shot_id == shot.pk and shot.code in note.text and world.users["director"].username in note.text
    # assigning to yourself, or re-sending the same assignee, tells nobody
    Notification.objects.all().delete()
    director = world.users["director"]
    shot.refresh_from_db()
    api(director).patch(f"/api/shots/{shot.pk}/", {"assignee": artist.pk, "version": shot.version}, format="json")
    api(director).patch(f"/api/shots/{shot.pk}/", {"assignee": director.pk, "version": shot.version}, format="json")
    assert not Notification.objects.exists()


def test_creating_an_assigned_shot_notifies_too(world, api):
    response = api(world.users["director"]).post(f"/api/projects/{world.project.pk}/shots/",
                                                 {"code": "SH777", "assignee": world.users["artist"].pk}, format="json")
    assert response.status_code == 201
    assert Notification.objects.get(user=world.users["artist"]).kind == "assigned"


def test_notifications_list_unread_count_and_mark_read(world, api):
    artist = world.users["artist"]
    reviewer = api(world.users["reviewer"])
    for n in range(3):
        post_comment(reviewer, world.take, body=f"@{artist.username} note {n}")
    client = api(artist)
    body = client.get("/api/notifications/").json()
    assert body["count"] == 3 and body["unread_count"] == 3
    first = body["results"][0]
    assert first["text"].endswith("note 2")  # newest first
    assert first["project_name"] == world.project.name and first["shot_code"] == world.shot.code
    assert first["read"] is False

    response = client.post("/api/notifications/read/", {"ids": [first["id"]]}, format="json")
    assert response.status_code == 200 and response.json() == {"marked": 1, "unread_count": 2}
    assert client.get("/api/notifications/?unread=1").json()["count"] == 2

    # someone else's ids are ignored
    other = Notification.objects.create(user=world.users["director"], project=world.project, kind="assigned", text="x")
    assert client.post("/api/notifications/read/", {"ids": [other.pk]}, format="json").json()["marked"] == 0
    assert Notification.objects.get(pk=other.pk).read_at is None

    assert client.post("/api/notifications/read/", {"all": True}, format="json").json() == {"marked": 2,
                                                                                             "unread_count": 0}
    response = client.post("/api/notifications/read/", {}, format="json")
    assert response.status_code == 400 and response.json()["detail"]


def test_notifications_of_a_project_i_left_disappear(world, api):
    artist = world.users["artist"]
    post_comment(api(world.users["reviewer"]), world.take, body=f"@{artist.username} hi")
    client = api(artist)
    assert client.get("/api/notifications/").json()["unread_count"] == 1
    client.delete(f"/api/projects/{world.project.pk}/members/{world.membership('artist').pk}/")
    body = client.get("/api/notifications/").json()
    assert body["count"] == 0 and body["unread_count"] == 0


# --- my work ------------------------------------------------------------------------------------


def test_my_work_lists_my_shots_across_projects_by_due_date_nulls_last(db, api):
    me = UserFactory()
    first, second, left = ProjectFactory(name="A"), ProjectFactory(name="B"), ProjectFactory(name="C")
    for project in (first, second, left):
        project.memberships.create(user=me, role=Role.ARTIST)
    someone = member(first, Role.ARTIST)
    day = datetime.date(2030, 3, 1)
    ShotFactory(project=first, code="A-late", assignee=me, due_date=day + datetime.timedelta(days=9))
    ShotFactory(project=second, code="B-none", assignee=me, due_date=None)
    ShotFactory(project=second, code="B-soon", assignee=me, due_date=day)
    ShotFactory(project=first, code="A-mid", assignee=me, due_date=day + datetime.timedelta(days=3))
    ShotFactory(project=first, code="A-theirs", assignee=someone, due_date=day)
    ShotFactory(project=left, code="C-left", assignee=me, due_date=day)
    client = api(me)
    client.delete(f"/api/projects/{left.pk}/members/{left.memberships.get(user=me).pk}/")

    body = client.get("/api/me/work/").json()
    assert [row["code"] for row in body["results"]] == ["B-soon", "A-mid", "A-late", "B-none"]
    row = body["results"][0]
    assert row["project_name"] == "B" and row["assignee"] == me.pk and row["due_date"] == "2030-03-01"
    assert [r["code"] for r in client.get("/api/me/work/?status=todo").json()["results"]][:1] == ["B-soon"]


def test_my_work_excludes_projects_i_was_removed_from_even_if_still_assigned(db, api):
    """Membership is the scope: a stale assignee field must not leak a project's shots."""
    me = UserFactory()
    project = ProjectFactory()
    shot = ShotFactory(project=project, assignee=me)
    assert Shot.objects.get(pk=shot.pk).assignee == me
    assert api(me).get("/api/me/work/").json()["count"] == 0
