"""No lost work: a stale shot version or a stale revision base gets 409 with the current
state, and changes nothing (no row, no event)."""
from projects.models import Event, PromptRevision, Shot


def events(project):
    return Event.objects.filter(project=project).count()


# --- PATCH /api/shots/{id}/ -----------------------------------------------------------------


def test_a_patch_with_the_current_version_applies_and_moves_the_version(world, api):
    shot = Shot.objects.get(pk=world.shot.pk)
    before = events(world.project)
    response = api(world.users["director"]).patch(f"/api/shots/{shot.pk}/", {"title": "Dawn", "version": shot.version},
                                                  format="json")
    assert response.status_code == 200
    assert response.json()["version"] == shot.version + 1
    assert response.json()["title"] == "Dawn"
    assert events(world.project) == before + 1
    event = Event.objects.filter(project=world.project).order_by("-seq").first()
    assert event.type == "shot.updated" and event.data["fields"] == ["title"] and event.data["version"] == shot.version + 1


def test_two_editors_the_second_gets_409_with_what_the_first_saved(world, api):
    shot = Shot.objects.get(pk=world.shot.pk)
    read_version = api(world.users["director"]).get(f"/api/shots/{shot.pk}/").json()["version"]
    first = api(world.users["director"]).patch(f"/api/shots/{shot.pk}/", {"title": "Dawn", "version": read_version},
                                               format="json")
    assert first.status_code == 200
    before = events(world.project)
    snapshot = Shot.objects.filter(pk=shot.pk).values().get()

    second = api(world.users["owner"]).patch(
        f"/api/shots/{shot.pk}/", {"title": "Dusk", "status": "review", "version": read_version}, format="json")

    assert second.status_code == 409
    body = second.json()
    assert "changed this shot" in body["detail"]
    current = body["current"]
    assert current["id"] == shot.pk
    assert current["title"] == "Dawn"  # what the first editor saved, so the second can merge
    assert current["version"] == read_version + 1
    assert current["status"] == shot.status
    assert Shot.objects.filter(pk=shot.pk).values().get() == snapshot
    assert events(world.project) == before


def test_a_patch_without_a_version_is_a_400_and_changes_nothing(world, api):
    shot = Shot.objects.get(pk=world.shot.pk)
    response = api(world.users["director"]).patch(f"/api/shots/{shot.pk}/", {"title": "Dawn"}, format="json")
    assert response.status_code == 400
    assert "version" in response.json() and response.json()["detail"].startswith("version")
    assert Shot.objects.get(pk=shot.pk).title == shot.title


def test_a_guest_with_the_current_version_is_still_refused(world, api):
    shot = Shot.objects.get(pk=world.shot.pk)
    response = api(world.users["guest"]).patch(f"/api/shots/{shot.pk}/", {"title": "x", "version": shot.version},
                                               format="json")
    assert response.status_code == 403


def test_server_side_changes_move_the_version_too(world, api):
    """Approving a take changes the shot; an editor holding the old version must get 409."""
    shot = Shot.objects.get(pk=world.shot.pk)
    director = api(world.users["director"])
    assert director.post(f"/api/takes/{world.take.pk}/review/", {"decision": "approve"}, format="json").status_code == 200
    response = director.patch(f"/api/shots/{shot.pk}/", {"title": "x", "version": shot.version}, format="json")
    assert response.status_code == 409
    assert response.json()["current"]["status"] == "approved"
    assert response.json()["current"]["current_take"] == world.take.pk


def test_removing_a_member_unassigns_their_shots_as_a_versioned_change(world, api):
    shot = Shot.objects.get(pk=world.shot.pk)
    assert shot.assignee == world.users["artist"]
    before = events(world.project)
    response = api(world.users["director"]).delete(
        f"/api/projects/{world.project.pk}/members/{world.membership('artist').pk}/")
    assert response.status_code == 204
    after = Shot.objects.get(pk=shot.pk)
    assert after.assignee is None and after.version == shot.version + 1
    types = list(Event.objects.filter(project=world.project, seq__gt=before).order_by("seq").values_list("type", flat=True))
    assert types == ["shot.updated", "member.removed"]


# --- POST /api/shots/{id}/revisions/ ----------------------------------------------------------


def test_revisions_chain_on_their_base(project, director, api):
    from tests.factories import ShotFactory

    shot = ShotFactory(project=project)
    client = api(director)
    first = client.post(f"/api/shots/{shot.pk}/revisions/", {"prompt": "静夜思：床前明月光"}, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["number"] == 1 and first.json()["parent"] is None
    second = client.post(f"/api/shots/{shot.pk}/revisions/",
                         {"prompt": "静夜思：床前明月光，疑是地上霜", "base": first.json()["id"], "note": "second line"},
                         format="json")
    assert second.status_code == 201
    assert second.json()["number"] == 2 and second.json()["parent"] == first.json()["id"]


def test_a_stale_base_gets_409_with_the_latest_revision_and_writes_nothing(world, api):
    shot = world.shot
    before = (PromptRevision.objects.count(), events(world.project))

    response = api(world.users["artist"]).post(
        f"/api/shots/{shot.pk}/revisions/", {"prompt": "my edit of r1", "base": world.rev1.pk}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert "revision 2" in body["detail"] and world.users["artist"].username in body["detail"]
    assert body["current"]["id"] == world.rev2.pk
    assert body["current"]["number"] == 2
    assert body["current"]["prompt"] == world.rev2.prompt
    assert (PromptRevision.objects.count(), events(world.project)) == before


def test_base_null_when_revisions_exist_is_stale_too(world, api):
    before = (PromptRevision.objects.count(), events(world.project))
    for body in ({"prompt": "from scratch", "base": None}, {"prompt": "from scratch"}):
        response = api(world.users["artist"]).post(f"/api/shots/{world.shot.pk}/revisions/", body, format="json")
        assert response.status_code == 409
        assert response.json()["current"]["id"] == world.rev2.pk
    assert (PromptRevision.objects.count(), events(world.project)) == before


def test_a_base_from_another_shot_is_a_400(world, api):
    from tests.factories import RevisionFactory

    foreign = RevisionFactory(shot=world.other_shot, number=1)
    response = api(world.users["artist"]).post(
        f"/api/shots/{world.shot.pk}/revisions/", {"prompt": "x", "base": foreign.pk}, format="json")
    assert response.status_code == 400
    assert "base" in response.json()


def test_revisions_are_immutable():
    import pytest

    revision = PromptRevision(pk=1, number=1, prompt="x")
    with pytest.raises(ValueError):
        revision.save()
