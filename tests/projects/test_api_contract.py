"""The REST contract of DESIGN.md that is not about scope or roles: pagination, errors,
token auth, what is required on create, and the shapes the UI relies on."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from projects.models import Event, Membership, Project, Role, Sequence, Shot
from tests.factories import PASSWORD, ShotFactory, UserFactory

User = get_user_model()


# --- lists and errors -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/projects/",
    "/api/projects/{project}/members/",
    "/api/projects/{project}/sequences/",
    "/api/projects/{project}/shots/",
    "/api/projects/{project}/assets/",
    "/api/projects/{project}/presets/",
    "/api/projects/{project}/events/",
    "/api/shots/{shot}/revisions/",
    "/api/shots/{shot}/comments/",
    "/api/shots/{shot}/takes/",
    "/api/takes/{take}/comments/",
    "/api/me/work/",
    "/api/notifications/",
])
def test_lists_are_paginated(world, api, path):
    url = path.format(project=world.project.pk, shot=world.shot.pk, take=world.take.pk)
    body = api(world.users["artist"]).get(url).json()
    assert {"count", "next", "previous", "results"} <= set(body)
    assert isinstance(body["results"], list) and body["count"] >= len(body["results"])


def test_page_size_and_next_links(project, director, api):
    for n in range(5):
        ShotFactory(project=project, code=f"P{n}")
    client = api(director)
    page = client.get(f"/api/projects/{project.pk}/shots/?page_size=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["previous"] is None
    codes = [s["code"] for s in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        codes += [s["code"] for s in page["results"]]
    assert codes == ["P0", "P1", "P2", "P3", "P4"]


def test_a_400_has_a_readable_detail_and_the_field_errors(project, director, api):
    response = api(director).post(f"/api/projects/{project.pk}/shots/", {"code": "", "duration_s": 9000},
                                  format="json")
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "code" in body and "duration_s" in body
    assert body["detail"].split(":")[0] in {"code", "duration_s"}


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/api/projects/999999/", 404),
    ("post", "/api/projects/{project}/shots/", 403),  # a guest
    ("put", "/api/shots/{shot}/", 405),
])
def test_other_errors_are_json_with_detail(project, guest, api, method, path, status):
    shot = ShotFactory(project=project)
    response = getattr(api(guest), method)(path.format(project=project.pk, shot=shot.pk), {"code": "X"}, format="json")
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)


def test_malformed_json_is_a_readable_400(project, director, api):
    response = api(director).generic("POST", f"/api/projects/{project.pk}/shots/", "{not json",
                                     content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_filters_with_bad_values_are_readable_400s(project, director, api):
    client = api(director)
    response = client.get(f"/api/projects/{project.pk}/shots/?status=finished")
    assert response.status_code == 400 and "finished" in response.json()["detail"]
    response = client.get(f"/api/projects/{project.pk}/shots/?assignee=bob")
    assert response.status_code == 400 and "assignee" in response.json()["detail"]


# --- auth -------------------------------------------------------------------------------------


def test_token_auth(world):
    client = APIClient()
    user = world.users["director"]
    response = client.post("/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=user).key

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    projects = client.get("/api/projects/").json()
    assert [p["id"] for p in projects["results"]] == [world.project.pk]
    shot = client.get(f"/api/shots/{world.shot.pk}/").json()
    patched = client.patch(f"/api/shots/{world.shot.pk}/", {"title": "by token", "version": shot["version"]},
                           format="json")
    assert patched.status_code == 200  # token clients need no CSRF token


def test_bad_credentials_are_a_readable_400(world):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": world.users["director"].username, "password": "nope"},
                           format="json")
    assert response.status_code == 400
    assert "credentials" in response.json()["detail"].lower()
    response = client.post("/api/auth/token/", {"username": "ghost"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()


def test_a_bad_token_is_refused(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get("/api/projects/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Invalid token."


def test_session_auth_needs_csrf_for_writes(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.users["director"])
    assert client.get("/api/projects/").status_code == 200
    response = client.post("/api/projects/", {"name": "x"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


# --- create: what is required, what the server sets ------------------------------------------


def test_creating_a_project_makes_the_creator_owner(db, api):
    user = UserFactory()
    response = api(user).post("/api/projects/", {"name": "静夜思 Quiet Night"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "静夜思 Quiet Night" and body["role"] == "owner"
    assert "delete_project" in body["capabilities"]
    project = Project.objects.get(pk=body["id"])
    assert Membership.objects.get(project=project).role == Role.OWNER and project.created_by == user
    assert Event.objects.get(project=project).type == "project.created"


def test_project_name_is_required(db, api):
    response = api(UserFactory()).post("/api/projects/", {}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"detail", "name"}


def test_project_settings_are_validated(project, owner, api, settings):
    settings.PROVIDER_ALLOWED_HOSTS = {"127.0.0.1"}
    client = api(owner)
    assert client.patch(f"/api/projects/{project.pk}/", {"fps": 0}, format="json").status_code == 400
    assert client.patch(f"/api/projects/{project.pk}/", {"default_provider": "nope"}, format="json").status_code == 400
    response = client.patch(f"/api/projects/{project.pk}/",
                            {"provider_settings": {"openai_images": {"headers": {"X-Api-Key": "sk-live"}}}},
                            format="json")
    assert response.status_code == 400 and "credential" in response.json()["detail"]
    response = client.patch(f"/api/projects/{project.pk}/",
                            {"provider_settings": {"comfyui": {"base_url": "http://evil.example:8188"}}}, format="json")
    assert response.status_code == 400 and "not an allowed provider host" in response.json()["detail"]
    assert Project.objects.get(pk=project.pk).provider_settings == {}
    response = client.patch(f"/api/projects/{project.pk}/",
                            {"provider_settings": {"comfyui": {"base_url": "http://127.0.0.1:8188"}}}, format="json")
    assert response.status_code == 200
    assert response.json()["providers"] == {"comfyui": {"base_url": "http://127.0.0.1:8188"}}
    assert "provider_settings" not in response.json()


@pytest.mark.parametrize(("path", "body", "required"), [
    ("/api/projects/{project}/members/", {"username": "{user}", "role": "artist"}, {"username", "role"}),
    ("/api/projects/{project}/sequences/", {"code": "SQ07"}, {"code"}),
    ("/api/projects/{project}/shots/", {"code": "SH700"}, {"code"}),
    ("/api/shots/{shot}/comments/", {"body": "nice"}, {"body"}),
    ("/api/projects/{project}/presets/", {"name": "Ink"}, {"name"}),
])
def test_only_the_designed_fields_are_required_on_create(project, owner, api, path, body, required):
    shot = ShotFactory(project=project)
    newcomer = UserFactory()
    url = path.format(project=project.pk, shot=shot.pk)
    client = api(owner)
    missing = client.post(url, {}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()) - {"detail"} == required
    body = {k: (v.format(user=newcomer.username) if isinstance(v, str) else v) for k, v in body.items()}
    created = client.post(url, body, format="json")
    assert created.status_code == 201, created.json()
    assert isinstance(created.json()["id"], int)


def test_revision_prompt_is_required_and_base_may_be_left_out_for_the_first(project, artist, api):
    shot = ShotFactory(project=project)
    client = api(artist)
    missing = client.post(f"/api/shots/{shot.pk}/revisions/", {}, format="json")
    assert missing.status_code == 400 and set(missing.json()) == {"detail", "prompt"}
    blank = client.post(f"/api/shots/{shot.pk}/revisions/", {"prompt": "   "}, format="json")
    assert blank.status_code == 400
    created = client.post(f"/api/shots/{shot.pk}/revisions/", {"prompt": "a lone sail"}, format="json")
    assert created.status_code == 201 and created.json()["number"] == 1
    assert created.json()["author"]["id"] == artist.pk


def test_duplicate_codes_are_readable_400s_not_500s(project, director, api):
    client = api(director)
    assert client.post(f"/api/projects/{project.pk}/sequences/", {"code": "SQ01"}, format="json").status_code == 201
    again = client.post(f"/api/projects/{project.pk}/sequences/", {"code": "SQ01"}, format="json")
    assert again.status_code == 400 and "already exists" in again.json()["detail"]
    assert client.post(f"/api/projects/{project.pk}/shots/", {"code": "SH1"}, format="json").status_code == 201
    again = client.post(f"/api/projects/{project.pk}/shots/", {"code": "SH1"}, format="json")
    assert again.status_code == 400 and "already exists" in again.json()["detail"]
    sequence = Sequence.objects.create(project=project, code="SQ02")
    rename = client.patch(f"/api/projects/{project.pk}/sequences/{sequence.pk}/", {"code": "SQ01"}, format="json")
    assert rename.status_code == 400


def test_a_shot_cannot_point_at_another_projects_sequence(project, director, api):
    from tests.factories import SequenceFactory

    foreign = SequenceFactory()
    response = api(director).post(f"/api/projects/{project.pk}/shots/", {"code": "X", "sequence": foreign.pk},
                                  format="json")
    assert response.status_code == 400 and "sequence" in response.json()


def test_server_owned_fields_are_ignored_on_create(project, director, api):
    other = UserFactory()
    response = api(director).post(f"/api/projects/{project.pk}/shots/",
                                  {"code": "SH9", "project": 424242, "version": 77, "current_take": 5}, format="json")
    assert response.status_code == 201
    shot = Shot.objects.get(pk=response.json()["id"])
    assert shot.project_id == project.pk and shot.version == 1 and shot.current_take_id is None
    comment = api(director).post(f"/api/shots/{shot.pk}/comments/",
                                 {"body": "x", "author": other.pk, "resolved": True}, format="json").json()
    assert comment["author"]["id"] == director.pk and comment["resolved"] is False


def test_member_username_must_exist_and_not_already_be_a_member(project, director, artist, api):
    client = api(director)
    response = client.post(f"/api/projects/{project.pk}/members/", {"username": "nobody", "role": "artist"},
                           format="json")
    assert response.status_code == 400 and "nobody" in response.json()["detail"]
    response = client.post(f"/api/projects/{project.pk}/members/", {"username": artist.username, "role": "guest"},
                           format="json")
    assert response.status_code == 400 and "already a member" in response.json()["detail"]
    response = client.post(f"/api/projects/{project.pk}/members/",
                           {"username": UserFactory().username, "role": "boss"}, format="json")
    assert response.status_code == 400 and "role" in response.json()


def test_members_list_shows_username_and_role(project, owner, artist, api):
    rows = api(artist).get(f"/api/projects/{project.pk}/members/").json()["results"]
    assert {(r["username"], r["role"]) for r in rows} == {(owner.username, "owner"), (artist.username, "artist")}


# --- shots, board and takes -------------------------------------------------------------------


def test_shot_filters(world, api):
    client = api(world.users["director"])
    base = f"/api/projects/{world.project.pk}/shots/"
    codes = lambda query: [s["code"] for s in client.get(base + query).json()["results"]]  # noqa: E731
    assert codes("") == ["SH010", "SH020"]
    assert codes(f"?assignee={world.users['artist'].pk}") == ["SH010"]
    assert codes("?assignee=none") == ["SH020"]
    assert codes(f"?sequence={world.sequence.pk}&status=todo") == ["SH010", "SH020"]
    assert codes("?status=review,approved") == []
    assert api(world.users["artist"]).get(base + "?assignee=me").json()["results"][0]["code"] == "SH010"


def test_the_board_has_everything_a_card_shows(world, api):
    Shot.objects.filter(pk=world.shot.pk).update(current_take=world.take)
    body = api(world.users["guest"]).get(f"/api/projects/{world.project.pk}/board/").json()
    assert body["project"]["id"] == world.project.pk and body["last_seq"] == world.project.__class__.objects.get(
        pk=world.project.pk).last_event_seq
    card = next(s for s in body["shots"] if s["id"] == world.shot.pk)
    assert card["current_take"]["id"] == world.take.pk and card["current_take"]["thumbnail_url"].startswith("/media/")
    assert card["status"] == "todo" and card["assignee"]["id"] == world.users["artist"].pk
    assert card["latest_revision"] == {"id": world.rev2.pk, "number": 2, "prompt": world.rev2.prompt}
    assert card["active_renders"][0]["id"] == world.job.pk and card["active_renders"][0]["progress"] == 0.5
    assert card["comment_count"] == 2 and card["take_count"] == 1
    empty = next(s for s in body["shots"] if s["id"] == world.other_shot.pk)
    assert empty["current_take"] is None and empty["latest_revision"] is None and empty["active_renders"] == []
    assert empty["comment_count"] == 0


def test_take_detail_shape(world, api):
    body = api(world.users["guest"]).get(f"/api/takes/{world.take.pk}/").json()
    for field in ("media_url", "thumbnail_url", "poster_url", "kind", "width", "height", "duration_s", "fps", "seed",
                  "provider", "revision", "review_status"):
        assert field in body
    assert body["media_url"] == f"/media/{world.media_name}"
    assert body["revision"] == world.rev2.pk and body["revision_number"] == 2


def test_review_changes_moves_the_shot_and_notifies_the_takes_author(world, api):
    from projects.models import Notification

    response = api(world.users["reviewer"]).post(f"/api/takes/{world.take.pk}/review/",
                                                 {"decision": "changes", "note": "more mist"}, format="json")
    assert response.status_code == 200
    assert response.json()["review_status"] == "changes" and response.json()["review_note"] == "more mist"
    assert Shot.objects.get(pk=world.shot.pk).status == "changes"
    notification = Notification.objects.get(user=world.users["artist"])
    assert notification.kind == "reviewed" and "asked for changes" in notification.text


def test_a_bad_review_decision_is_a_400(world, api):
    response = api(world.users["director"]).post(f"/api/takes/{world.take.pk}/review/", {"decision": "maybe"},
                                                 format="json")
    assert response.status_code == 400 and "decision" in response.json()


def test_current_take_must_belong_to_the_shot(world, api):
    from tests.factories import TakeFactory

    elsewhere = TakeFactory(shot=world.other_shot)
    response = api(world.users["artist"]).post(f"/api/shots/{world.shot.pk}/current-take/", {"take": elsewhere.pk},
                                               format="json")
    assert response.status_code == 400 and "take" in response.json()
    response = api(world.users["artist"]).post(f"/api/shots/{world.shot.pk}/current-take/", {"take": world.take.pk},
                                               format="json")
    assert response.status_code == 200 and response.json()["current_take"] == world.take.pk


def test_deleting_a_project_removes_everything_and_its_files(world, api, settings,
                                                             django_capture_on_commit_callbacks):
    from pathlib import Path

    folder = Path(settings.MEDIA_ROOT) / "projects" / str(world.project.pk)
    assert any(folder.rglob("*"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users["owner"]).delete(f"/api/projects/{world.project.pk}/")
    assert response.status_code == 204
    assert not Project.objects.filter(pk=world.project.pk).exists()
    assert not Shot.objects.filter(project_id=world.project.pk).exists()
    assert not [p for p in folder.rglob("*") if p.is_file()]


def test_a_racing_duplicate_past_the_serializer_is_still_a_400(project, director):
    """Two requests that both passed the serializer's uniqueness check: the loser gets a 400."""
    from rest_framework.exceptions import ValidationError

    from projects import services

    membership = Membership.objects.select_related("user").get(project=project, user=director)
    services.create_sequence(membership, code="SQ01")
    services.create_shot(membership, code="SH01")
    with pytest.raises(ValidationError) as error:
        services.create_sequence(membership, code="SQ01")
    assert "already exists" in str(error.value.detail)
    with pytest.raises(ValidationError):
        services.create_shot(membership, code="SH01")
    with pytest.raises(ValidationError):
        services.add_member(membership, Membership.objects.get(project=project, user=director).user.username, "artist")
    assert Shot.objects.filter(project=project).count() == 1  # and the transaction is still usable


def test_revision_assets_must_be_this_projects(world, api):
    from tests.factories import AssetFactory

    foreign = AssetFactory()
    response = api(world.users["artist"]).post(
        f"/api/shots/{world.shot.pk}/revisions/",
        {"prompt": "x", "base": world.rev2.pk, "assets": [world.asset.pk, foreign.pk]}, format="json")
    assert response.status_code == 400 and "assets" in response.json()
    response = api(world.users["artist"]).post(
        f"/api/shots/{world.shot.pk}/revisions/",
        {"prompt": "x", "base": world.rev2.pk, "assets": [world.asset.pk], "presets": [world.preset.pk]}, format="json")
    assert response.status_code == 201
    assert response.json()["assets"] == [world.asset.pk] and response.json()["presets"] == [world.preset.pk]


def test_an_approved_shot_is_reopened_only_by_an_approver(world, api):
    from tests.factories import TakeFactory

    director, reviewer, artist = (api(world.users[r]) for r in ("director", "reviewer", "artist"))
    assert director.post(f"/api/takes/{world.take.pk}/review/", {"decision": "approve"}, format="json").status_code == 200
    assert Shot.objects.get(pk=world.shot.pk).status == "approved"

    # a reviewer's "changes" is recorded on the take, but the shot stays approved
    response = reviewer.post(f"/api/takes/{world.take.pk}/review/", {"decision": "changes", "note": "hmm"},
                             format="json")
    assert response.status_code == 200 and response.json()["review_status"] == "changes"
    assert Shot.objects.get(pk=world.shot.pk).status == "approved"

    # an artist may not swap the approved take out
    newer = TakeFactory(shot=world.shot, number=5)
    response = artist.post(f"/api/shots/{world.shot.pk}/current-take/", {"take": newer.pk}, format="json")
    assert response.status_code == 403 and "approved shot" in response.json()["detail"]
    assert Shot.objects.get(pk=world.shot.pk).current_take_id == world.take.pk

    # the director may do both
    assert director.post(f"/api/shots/{world.shot.pk}/current-take/", {"take": newer.pk},
                         format="json").status_code == 200
    assert director.post(f"/api/takes/{newer.pk}/review/", {"decision": "changes"}, format="json").status_code == 200
    assert Shot.objects.get(pk=world.shot.pk).status == "changes"


def test_an_unknown_api_url_answers_json_not_the_html_page(api, outsider):
    response = api(outsider).get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


def test_refusals_speak_the_callers_language(api, project, guest):
    shot = ShotFactory(project=project)
    url = f"/api/shots/{shot.pk}/revisions/"
    english = api(guest).post(url, {"prompt": "x"}, format="json")
    chinese = api(guest).post(url, {"prompt": "x"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert english.status_code == chinese.status_code == 403
    assert english.json()["detail"] == "Only artists, directors and owners can write prompt revisions."
    assert chinese.json()["detail"] == "只有美术、导演和所有者可以提交提示词修订。"
