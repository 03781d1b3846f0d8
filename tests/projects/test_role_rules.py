"""Every role rule of the foundation issue, as one table: role × action → HTTP status.

guest: read + comment; reviewer: + review decisions (changes / reject); artist: + prompt
revisions on any shot, the status of shots assigned to them; director/owner: + members,
assignment, approval, settings, shot and sequence planning; only an owner deletes the project
and grants or changes the owner role. A refused write changes nothing and writes no event.
"""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.models import Event, Membership, Role, Shot, ShotStatus
from renders.models import Take

from tests.factories import image_bytes

ROLES = ["guest", "reviewer", "artist", "director", "owner"]


def expect(min_role: str, ok: int, denied: int = 403) -> dict:
    """{role: status}: ``ok`` from ``min_role`` up, ``denied`` below."""
    rank = ROLES.index(min_role)
    return {role: ok if ROLES.index(role) >= rank else denied for role in ROLES}


def only(roles, ok: int, denied: int = 403) -> dict:
    return {role: ok if role in roles else denied for role in ROLES}


def shot_patch(shot, **changes):
    return f"/api/shots/{shot.pk}/", {**changes, "version": Shot.objects.get(pk=shot.pk).version}


# Each action: (method, url and body from the world and the acting user, {role: expected status}).
# SETUP below may prepare the world for the acting user first (e.g. assign them the shot).
ACTIONS = {
    # --- everyone who is a member ------------------------------------------------------------
    "read project": ("get", lambda w, u: (f"/api/projects/{w.project.pk}/", None), expect("guest", 200)),
    "read board": ("get", lambda w, u: (f"/api/projects/{w.project.pk}/board/", None), expect("guest", 200)),
    "read shot": ("get", lambda w, u: (f"/api/shots/{w.shot.pk}/", None), expect("guest", 200)),
    "read takes": ("get", lambda w, u: (f"/api/shots/{w.shot.pk}/takes/", None), expect("guest", 200)),
    "read events": ("get", lambda w, u: (f"/api/projects/{w.project.pk}/events/", None), expect("guest", 200)),
    "read members": ("get", lambda w, u: (f"/api/projects/{w.project.pk}/members/", None), expect("guest", 200)),
    "comment on a take": ("post", lambda w, u: (f"/api/takes/{w.take.pk}/comments/", {"body": "nice", "frame": 4}),
                          expect("guest", 201)),
    "comment on a shot": ("post", lambda w, u: (f"/api/shots/{w.shot.pk}/comments/", {"body": "nice"}),
                          expect("guest", 201)),
    "leave the project": ("delete", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/{Membership.objects.get(project=w.project, user=u).pk}/", None),
        expect("guest", 204)),
    "edit someone else's comment": ("patch", lambda w, u: (
        f"/api/shots/{w.shot.pk}/comments/{w.shot_comment.pk}/", {"body": "rewritten"}),
        # the world's comments are the reviewer's own
        only({"reviewer"}, 200)),
    # --- reviewer and up -----------------------------------------------------------------------
    "review: ask for changes": ("post", lambda w, u: (f"/api/takes/{w.take.pk}/review/", {"decision": "changes"}),
                                expect("reviewer", 200)),
    "review: reject": ("post", lambda w, u: (f"/api/takes/{w.take.pk}/review/", {"decision": "reject"}),
                       expect("reviewer", 200)),
    "resolve someone else's comment": ("patch", lambda w, u: (
        f"/api/takes/{w.take.pk}/comments/{w.take_comment.pk}/", {"resolved": True}), expect("reviewer", 200)),
    # --- artist and up -------------------------------------------------------------------------
    "revise the prompt of any shot": ("post", lambda w, u: (
        f"/api/shots/{w.other_shot.pk}/revisions/", {"prompt": "a heron lifts off"}), expect("artist", 201)),
    "pick the current take": ("post", lambda w, u: (f"/api/shots/{w.shot.pk}/current-take/", {"take": w.take.pk}),
                              expect("artist", 200)),
    "add a style preset": ("post", lambda w, u: (f"/api/projects/{w.project.pk}/presets/",
                                                 {"name": "Ink", "prompt": "ink wash"}), expect("artist", 201)),
    "upload a reference asset": ("multipart", lambda w, u: (f"/api/projects/{w.project.pk}/assets/", {
        "name": "Moon", "kind": "location", "image": SimpleUploadedFile("moon.png", image_bytes(), "image/png")}),
        expect("artist", 201)),
    "status of my own shot": ("patch", lambda w, u: shot_patch(w.shot, status="in_progress"), expect("artist", 200)),
    # --- director and up -----------------------------------------------------------------------
    "status of someone else's shot": ("patch", lambda w, u: shot_patch(w.other_shot, status="in_progress"),
                                      expect("director", 200)),
    "approve my own shot by status": ("patch", lambda w, u: shot_patch(w.shot, status="approved"),
                                      expect("director", 200)),
    "approve a take": ("post", lambda w, u: (f"/api/takes/{w.take.pk}/review/", {"decision": "approve"}),
                       expect("director", 200)),
    "assign a shot": ("patch", lambda w, u: shot_patch(w.other_shot, assignee=w.users["artist"].pk),
                      expect("director", 200)),
    "unassign a shot": ("patch", lambda w, u: shot_patch(w.shot, assignee=None), expect("director", 200)),
    "plan: retitle a shot": ("patch", lambda w, u: shot_patch(w.shot, title="Boat at dawn"), expect("director", 200)),
    "plan: set a due date": ("patch", lambda w, u: shot_patch(w.shot, due_date="2030-01-31"), expect("director", 200)),
    "plan: create a shot": ("post", lambda w, u: (f"/api/projects/{w.project.pk}/shots/", {"code": "SH500"}),
                            expect("director", 201)),
    "plan: create a sequence": ("post", lambda w, u: (f"/api/projects/{w.project.pk}/sequences/", {"code": "SQ09"}),
                                expect("director", 201)),
    "plan: edit a sequence": ("patch", lambda w, u: (
        f"/api/projects/{w.project.pk}/sequences/{w.sequence.pk}/", {"title": "Night"}), expect("director", 200)),
    "members: add an artist": ("post", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/", {"username": w.outsider.username, "role": "artist"}),
        expect("director", 201)),
    "members: change a role": ("patch", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/{w.membership('other_guest').pk}/", {"role": "reviewer"}),
        expect("director", 200)),
    "members: remove someone": ("delete", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/{w.membership('other_guest').pk}/", None), expect("director", 204)),
    "settings: change the project": ("patch", lambda w, u: (
        f"/api/projects/{w.project.pk}/", {"name": "Quiet Night Thoughts", "fps": 25}), expect("director", 200)),
    # --- owner only -----------------------------------------------------------------------------
    "delete the project": ("delete", lambda w, u: (f"/api/projects/{w.project.pk}/", None), expect("owner", 204)),
    "members: add an owner": ("post", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/", {"username": w.outsider.username, "role": "owner"}),
        expect("owner", 201)),
    "members: promote to owner": ("patch", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/{w.membership('other_guest').pk}/", {"role": "owner"}),
        expect("owner", 200)),
    "members: demote another owner": ("patch", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/{w.membership('owner2').pk}/", {"role": "director"}),
        expect("owner", 200)),
    "members: remove another owner": ("delete", lambda w, u: (
        f"/api/projects/{w.project.pk}/members/{w.membership('owner2').pk}/", None), expect("owner", 204)),
}

#: Actions that need the world arranged around the acting user first.
SETUP = {
    "status of my own shot": lambda w, u: Shot.objects.filter(pk=w.shot.pk).update(assignee=u),
    "approve my own shot by status": lambda w, u: Shot.objects.filter(pk=w.shot.pk).update(assignee=u),
}

CASES = [(action, role, expected[role]) for action, (_, _, expected) in ACTIONS.items() for role in ROLES]


@pytest.fixture
def world_plus(world):
    from tests.factories import UserFactory

    world.outsider = UserFactory()
    return world


def state(w):
    """What a refused write must leave exactly as it was."""
    shots = list(Shot.objects.filter(project=w.project).order_by("pk").values_list(
        "pk", "version", "title", "status", "assignee_id", "due_date", "current_take_id"))
    return {
        "events": Event.objects.filter(project=w.project).count(),
        "members": sorted(Membership.objects.filter(project=w.project).values_list("user_id", "role")),
        "shots": shots,
        "takes": list(Take.objects.filter(project=w.project).values_list("pk", "review_status")),
        "project": type(w.project).objects.filter(pk=w.project.pk).values_list("name", "fps").first(),
    }


@pytest.mark.parametrize(("action", "role", "status"), CASES, ids=[f"{a}-{r}" for a, r, _ in CASES])
def test_role_table(world_plus, api, action, role, status):
    w = world_plus
    user = w.users[role]
    if action in SETUP:
        SETUP[action](w, user)
    method, build, _ = ACTIONS[action]
    url, body = build(w, user)
    client = api(user)
    before = state(w)

    if method == "get":
        response = client.get(url)
    elif method == "multipart":
        response = client.post(url, body, format="multipart")
    else:
        response = getattr(client, method)(url, body or {}, format="json")

    assert response.status_code == status, (action, role, response.status_code, getattr(response, "data", None))
    if status == 403:
        assert response.json()["detail"], "a refusal says why"
        assert state(w) == before, "a refused write changed something"
    elif method != "get":
        assert Event.objects.filter(project_id=w.project.pk).count() > before["events"] or action == "delete the project"


# --- the owner rules that are not a single row of the table ---------------------------------


def test_the_last_owner_cannot_be_demoted_or_removed(project, owner, director, api):
    client = api(owner)
    mine = Membership.objects.get(project=project, user=owner)
    response = client.patch(f"/api/projects/{project.pk}/members/{mine.pk}/", {"role": "director"}, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()["detail"]
    response = client.delete(f"/api/projects/{project.pk}/members/{mine.pk}/")
    assert response.status_code == 400
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER
    # a director cannot even try: touching the owner role is the owner's alone
    response = api(director).delete(f"/api/projects/{project.pk}/members/{mine.pk}/")
    assert response.status_code == 403
    assert Membership.objects.filter(project=project, role=Role.OWNER).count() == 1


def test_an_owner_may_step_down_once_another_owner_exists(project, owner, api):
    from tests.factories import member

    second = member(project, Role.DIRECTOR)
    client = api(owner)
    second_membership = Membership.objects.get(project=project, user=second)
    assert client.patch(f"/api/projects/{project.pk}/members/{second_membership.pk}/", {"role": "owner"},
                        format="json").status_code == 200
    mine = Membership.objects.get(project=project, user=owner)
    response = client.patch(f"/api/projects/{project.pk}/members/{mine.pk}/", {"role": "artist"}, format="json")
    assert response.status_code == 200
    assert Membership.objects.get(pk=mine.pk).role == Role.ARTIST
    assert list(Membership.objects.filter(project=project, role=Role.OWNER).values_list("user", flat=True)) == [second.pk]


def test_a_director_cannot_make_themselves_owner(project, owner, director, api):
    mine = Membership.objects.get(project=project, user=director)
    response = api(director).patch(f"/api/projects/{project.pk}/members/{mine.pk}/", {"role": "owner"}, format="json")
    assert response.status_code == 403
    assert Membership.objects.get(pk=mine.pk).role == Role.DIRECTOR


def test_an_artist_cannot_reopen_an_approved_shot_even_if_assigned(world, api):
    artist = world.users["artist"]
    Shot.objects.filter(pk=world.shot.pk).update(status=ShotStatus.APPROVED, assignee=artist)
    url, body = shot_patch(world.shot, status="in_progress")
    response = api(artist).patch(url, body, format="json")
    assert response.status_code == 403
    assert Shot.objects.get(pk=world.shot.pk).status == ShotStatus.APPROVED


def test_a_form_sent_back_unchanged_is_judged_by_what_it_changes(world, api):
    """The artist's editor may send the whole shot back; only the status really changes."""
    artist = world.users["artist"]
    shot = Shot.objects.get(pk=world.shot.pk)
    body = {"title": shot.title, "code": shot.code, "order": shot.order, "assignee": artist.pk,
            "status": "review", "version": shot.version}
    response = api(artist).patch(f"/api/shots/{shot.pk}/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "review"
    # and a no-op PATCH is not a 500 (nothing changes, the version stays)
    response = api(artist).patch(f"/api/shots/{shot.pk}/", {"version": shot.version + 1}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == shot.version + 1


def test_a_guest_cannot_write_a_shot_even_a_no_op(world, api):
    shot = Shot.objects.get(pk=world.shot.pk)
    response = api(world.users["guest"]).patch(f"/api/shots/{shot.pk}/", {"version": shot.version}, format="json")
    assert response.status_code == 403


def test_the_assignee_must_be_a_member(world, api):
    from tests.factories import UserFactory

    stranger = UserFactory()
    url, body = shot_patch(world.shot, assignee=stranger.pk)
    response = api(world.users["director"]).patch(url, body, format="json")
    assert response.status_code == 400
    assert "assignee" in response.json()
    assert Shot.objects.get(pk=world.shot.pk).assignee_id == world.users["artist"].pk


def test_the_capabilities_the_ui_is_given_match_the_rules(world, api):
    caps = {role: set(api(world.users[role]).get(f"/api/projects/{world.project.pk}/").json()["capabilities"])
            for role in ROLES}
    assert caps["guest"] == {"view", "comment"}
    assert caps["reviewer"] == caps["guest"] | {"review"}
    assert caps["artist"] == caps["reviewer"] | {"edit_prompt", "render"}
    assert caps["director"] == caps["artist"] | {"approve", "plan_shots", "assign", "manage_members",
                                                 "change_settings"}
    assert caps["owner"] == caps["director"] | {"delete_project"}
