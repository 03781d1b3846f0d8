"""The render API: who may render, what a request may say, and the full loop on the local provider
(4 image variants, then a video from one of them: 5 takes with real files)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from projects.models import Event, Notification, Role, Shot
from renders import media
from renders.models import RenderJob, RenderStatus, Take
from renders.tasks import run_render_job
from tests.factories import ProjectFactory, RevisionFactory, SequenceFactory, ShotFactory, member
from tests.renders.pipeline_support import POEM, small_shot

pytestmark = pytest.mark.django_db


def renders_url(shot):
    return f"/api/shots/{shot.pk}/renders/"


def run(job_id):
    """Execute the real task in this process (eagerly), as a worker would."""
    return run_render_job.apply(args=[job_id]).get()


@pytest.fixture
def shot(project):
    return small_shot(project)


def open_image(name):
    with default_storage.open(name, "rb") as fh, Image.open(fh) as im:
        im.load()
        return im.size, im.format


def test_four_image_variants_then_a_video_make_five_takes_with_real_media(api, artist, shot,
                                                                          django_capture_on_commit_callbacks):
    client = api(artist)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(renders_url(shot), {"provider": "local", "kind": "image", "variants": 4, "seed": 41},
                               format="json")
    assert response.status_code == 202, response.data
    jobs = response.data["jobs"]
    assert [job["status"] for job in jobs] == ["queued"] * 4
    assert [job["seed"] for job in jobs] == [41, 42, 43, 44]
    assert len({job["batch"] for job in jobs}) == 1
    # The task is queued only once the rows commit (with the events' publications).
    assert [cb.__qualname__ for cb in queued].count("enqueue.<locals>.send") == 1
    params = jobs[0]["params"]
    assert params["prompt"] == f"{POEM}, guofeng ink wash"  # the revision's style preset appended
    assert params["negative_prompt"] == "text, watermark, photo"
    assert (params["width"], params["height"]) == (160, 90)
    assert "fps" not in params  # images have no frame rate

    for job in jobs:
        assert run(job["id"]) == "succeeded"

    takes = list(Take.objects.filter(shot=shot).order_by("number"))
    assert [take.number for take in takes] == [1, 2, 3, 4]
    assert sorted(take.seed for take in takes) == [41, 42, 43, 44]
    for take in takes:
        assert take.job.status == RenderStatus.SUCCEEDED
        assert take.media.name.startswith(f"projects/{shot.project_id}/takes/")
        assert open_image(take.media.name) == ((160, 90), "PNG")
        thumb_size, thumb_format = open_image(take.thumbnail.name)
        assert thumb_format == "JPEG" and thumb_size[0] <= 480
        assert (take.width, take.height, take.kind, take.provider) == (160, 90, "image", "local")
        assert take.params["prompt"] == params["prompt"] and take.params["backend"]["seed"] == take.seed
        assert take.revision_id == jobs[0]["revision"]
    # Different seeds give different pictures.
    assert len({default_storage.open(take.media.name).read() for take in takes}) == 4
    shot.refresh_from_db()
    assert shot.current_take_id == takes[0].pk  # the board has something to show

    listed = client.get(f"/api/shots/{shot.pk}/takes/").data["results"]
    assert {take["media_url"] for take in listed} == {take.media.url for take in takes}

    key_frame = takes[2]
    response = client.post(renders_url(shot), {"provider": "local", "kind": "video", "source_take": key_frame.pk},
                           format="json")
    assert response.status_code == 202, response.data
    video_job = response.data["jobs"][0]
    assert video_job["params"]["fps"] == 12 and video_job["params"]["duration_s"] == 1.0
    assert run(video_job["id"]) == "succeeded"

    video = Take.objects.get(job_id=video_job["id"])
    assert (video.number, video.kind, video.source_take_id) == (5, "video", key_frame.pk)
    info = media.probe(default_storage.path(video.media.name))
    assert (info.kind, info.codec, info.width, info.height) == ("video", "h264", 160, 90)
    assert info.fps == pytest.approx(12) and info.frame_count == 12
    assert (video.fps, video.frame_count, video.duration_s) == (pytest.approx(12), 12, pytest.approx(1.0, abs=0.05))
    assert open_image(video.poster.name)[0] == (160, 90)
    assert open_image(video.thumbnail.name)[1] == "JPEG"
    assert video.content_type == "video/mp4"

    detail = client.get(f"/api/renders/{video_job['id']}/").data
    assert (detail["status"], detail["progress"], detail["take"]) == ("succeeded", 1.0, video.pk)

    states = Event.objects.filter(project=shot.project, type="render.state")
    assert states.filter(data__status="queued").count() == 5
    assert states.filter(data__status="running").count() == 5
    assert states.filter(data__status="succeeded").count() == 5
    assert Event.objects.filter(type="take.created").count() == 5
    # One notification per request, when its last job ends.
    notes = Notification.objects.filter(user=artist, kind=Notification.Kind.RENDER_SUCCEEDED).order_by("id")
    assert [note.data["succeeded"] for note in notes] == [4, 1]
    assert "4 image takes ready" in notes[0].text


@pytest.mark.parametrize("role", [Role.GUEST, Role.REVIEWER])
def test_guests_and_reviewers_cannot_render(api, project, shot, role):
    user = member(project, role)
    response = api(user).post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json")
    assert response.status_code == 403
    assert "artists" in response.data["detail"]
    assert not RenderJob.objects.exists()


@pytest.mark.parametrize("role", [Role.ARTIST, Role.DIRECTOR, Role.OWNER])
def test_artists_and_up_can_render(api, project, shot, role):
    response = api(member(project, role)).post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json")
    assert response.status_code == 202
    assert RenderJob.objects.filter(shot=shot).count() == 1


def test_non_members_get_404_and_anonymous_is_refused(api, outsider, shot, artist):
    job_response = api(artist).post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json")
    job_id = job_response.data["jobs"][0]["id"]
    project_id = shot.project_id
    for client, expected in ((api(outsider), {404}), (api(None), {401, 403})):
        assert client.post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json").status_code in expected
        assert client.get(renders_url(shot)).status_code in expected
        assert client.post(f"/api/projects/{project_id}/renders/batch/", {"provider": "local", "kind": "image",
                                                                         "shots": [shot.pk]}, format="json").status_code in expected
        assert client.get(f"/api/projects/{project_id}/renders/").status_code in expected
        assert client.get(f"/api/renders/{job_id}/").status_code in expected
        assert client.post(f"/api/renders/{job_id}/cancel/").status_code in expected
        assert client.post(f"/api/renders/{job_id}/retry/").status_code in expected
    assert RenderJob.objects.count() == 1
    assert RenderJob.objects.get().status == RenderStatus.QUEUED


def test_guest_cannot_cancel_or_retry(api, project, shot, artist):
    job_id = api(artist).post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json").data["jobs"][0]["id"]
    guest = api(member(project, Role.GUEST))
    assert guest.post(f"/api/renders/{job_id}/cancel/").status_code == 403
    assert guest.get(f"/api/renders/{job_id}/").status_code == 200  # but may watch
    assert RenderJob.objects.get(pk=job_id).status == RenderStatus.QUEUED


def bad_requests(shot, other_shot, video_take, foreign_take, other_revision):
    return [
        ({"provider": "nope", "kind": "image"}, "provider", "Unknown provider"),
        ({"provider": "local", "kind": "audio"}, "kind", ""),
        ({"provider": "local", "kind": "image", "variants": 0}, "variants", ""),
        ({"provider": "local", "kind": "image", "variants": 9}, "variants", ""),
        ({"provider": "local", "kind": "image", "seed": -1}, "seed", ""),
        ({"provider": "replicate", "kind": "image"}, "provider", "not enabled"),
        ({"provider": "openai_images", "kind": "video", "source_take": None}, "kind", "cannot make video"),
        ({"provider": "local", "kind": "video"}, "source_take", "image take to animate"),
        ({"provider": "local", "kind": "video", "source_take": video_take.pk}, "source_take", "Only an image take"),
        ({"provider": "local", "kind": "video", "source_take": foreign_take.pk}, "source_take", "No such take"),
        ({"provider": "local", "kind": "image", "source_take": video_take.pk}, "source_take", "only used for video"),
        ({"provider": "local", "kind": "image", "revision": other_revision.pk}, "revision", "does not belong"),
        ({"provider": "local", "kind": "image", "params": {"prompt": "something else"}}, "params", "revision"),
        ({"provider": "local", "kind": "image", "params": {"width": "wide"}}, "params", "width must be"),
        ({"provider": "local", "kind": "image", "params": {"width": 100000}}, "params", "width must be"),
        ({"provider": "local", "kind": "image", "params": "latency"}, "params", ""),
        ({"provider": "local", "kind": "image", "params": {"blob": "x" * 20000}}, "params", "too large"),
    ]


def test_bad_requests_get_a_readable_400_and_change_nothing(api, project, shot, artist):
    project.provider_settings = {"openai_images": {"model": "gpt-image-1"}}
    project.save()
    other_shot = ShotFactory(project=project)
    other_revision = RevisionFactory(shot=other_shot, number=1)
    video_take = Take.objects.create(project=project, shot=shot, number=1, kind="video", media="x.mp4", provider="local")
    foreign = ShotFactory(project=ProjectFactory())
    foreign_take = Take.objects.create(project=foreign.project, shot=foreign, number=1, kind="image", media="x.png",
                                       provider="local")
    client = api(artist)
    events_before = Event.objects.count()
    for body, field, text in bad_requests(shot, other_shot, video_take, foreign_take, other_revision):
        response = client.post(renders_url(shot), body, format="json")
        assert response.status_code == 400, (body, response.data)
        assert field in response.data, (body, response.data)
        assert text in response.data["detail"], (body, response.data["detail"])
    assert not RenderJob.objects.exists()
    assert Event.objects.count() == events_before


def test_a_shot_without_a_prompt_cannot_render(api, project, artist):
    shot = ShotFactory(project=project, code="SH999")
    response = api(artist).post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json")
    assert response.status_code == 400
    assert response.data["detail"] == "revision: Shot SH999 has no prompt yet; write a prompt revision before rendering."
    assert not RenderJob.objects.exists()


def test_video_from_a_reference_asset_needs_no_source_take(api, project, shot, artist):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from projects.models import Membership
    from projects.services import create_asset

    buffer = io.BytesIO()
    Image.new("RGB", (200, 120), (180, 60, 40)).save(buffer, "PNG")
    asset = create_asset(Membership.objects.get(user=artist), name="Old man",
                         image=SimpleUploadedFile("old-man.png", buffer.getvalue(), "image/png"))
    revision = shot.revisions.get()
    revision.assets.add(asset)
    response = api(artist).post(renders_url(shot), {"provider": "local", "kind": "video"}, format="json")
    assert response.status_code == 202
    job = response.data["jobs"][0]
    assert job["params"]["reference_assets"] == [asset.pk] and job["source_take"] is None
    assert run(job["id"]) == "succeeded"
    take = Take.objects.get(job_id=job["id"])
    assert take.kind == "video" and take.params["backend"]["source"] == "source_image"  # the asset was the key frame


def test_a_chosen_revision_and_param_overrides_are_resolved_onto_the_job(api, project, shot, artist):
    first = shot.revisions.get()
    RevisionFactory(shot=shot, number=2, prompt="later prompt")
    response = api(artist).post(renders_url(shot), {
        "provider": "local", "kind": "video", "revision": first.pk, "variants": 2,
        "params": {"width": 64, "duration_s": 2.5, "motion": "pan_left"},
    }, format="json")
    # No source take and no reference asset: a readable 400, even with a revision chosen.
    assert response.status_code == 400 and "source_take" in response.data

    response = api(artist).post(renders_url(shot), {
        "provider": "local", "kind": "image", "revision": first.pk, "variants": 2,
        "params": {"width": 64, "motion": "pan_left"},
    }, format="json")
    assert response.status_code == 202
    job = RenderJob.objects.filter(shot=shot).order_by("variant").first()
    assert job.revision_id == first.pk
    assert job.params["prompt"].startswith(POEM)
    assert (job.params["width"], job.params["height"]) == (64, 90)
    assert job.params["provider_params"] == {"motion": "pan_left"}
    seeds = list(RenderJob.objects.filter(shot=shot).values_list("seed", flat=True))
    assert len(set(seeds)) == 2  # random but distinct


def test_batch_renders_a_selection_or_a_sequence(api, project, artist):
    sequence = SequenceFactory(project=project)
    shots = [small_shot(project, preset=False) for _ in range(3)]
    Shot.objects.filter(pk__in=[s.pk for s in shots[:2]]).update(sequence=sequence)
    client = api(artist)
    response = client.post(f"/api/projects/{project.pk}/renders/batch/",
                           {"provider": "local", "kind": "image", "variants": 2, "shots": [shots[2].pk, shots[0].pk]},
                           format="json")
    assert response.status_code == 202, response.data
    assert sorted((job["shot"], job["variant"]) for job in response.data["jobs"]) == sorted(
        (s.pk, v) for s in (shots[0], shots[2]) for v in (0, 1))

    response = client.post(f"/api/projects/{project.pk}/renders/batch/",
                           {"provider": "local", "kind": "image", "sequence": sequence.pk}, format="json")
    assert response.status_code == 202
    assert {job["shot"] for job in response.data["jobs"]} == {shots[0].pk, shots[1].pk}
    assert RenderJob.objects.count() == 6


def test_a_batch_with_one_bad_shot_queues_nothing(api, project, artist):
    good = small_shot(project)
    empty = ShotFactory(project=project, code="SH_EMPTY")
    foreign = ShotFactory(project=ProjectFactory())
    client = api(artist)
    url = f"/api/projects/{project.pk}/renders/batch/"
    response = client.post(url, {"provider": "local", "kind": "image", "shots": [good.pk, empty.pk]}, format="json")
    assert response.status_code == 400
    assert "SH_EMPTY has no prompt yet" in response.data["detail"]
    response = client.post(url, {"provider": "local", "kind": "image", "shots": [good.pk, foreign.pk]}, format="json")
    assert response.status_code == 400 and str(foreign.pk) in response.data["detail"]
    response = client.post(url, {"provider": "local", "kind": "video", "shots": [good.pk]}, format="json")
    assert response.status_code == 400 and "no current image take" in response.data["detail"]
    response = client.post(url, {"provider": "local", "kind": "image", "shots": [good.pk], "sequence": 1}, format="json")
    assert response.status_code == 400
    assert not RenderJob.objects.exists()


def test_cancel_a_queued_job_and_retry_it(api, shot, artist):
    client = api(artist)
    job_id = client.post(renders_url(shot), {"provider": "local", "kind": "image", "seed": 7},
                         format="json").data["jobs"][0]["id"]
    response = client.post(f"/api/renders/{job_id}/retry/")
    assert response.status_code == 409  # only failed or canceled jobs
    response = client.post(f"/api/renders/{job_id}/cancel/")
    assert response.status_code == 200
    assert (response.data["status"], response.data["message"]) == ("canceled", f"Canceled by {artist.username}")
    assert client.post(f"/api/renders/{job_id}/cancel/").status_code == 200  # idempotent

    assert run(job_id) == "skipped"  # the queued task finds it canceled
    assert not Take.objects.exists()
    assert Event.objects.filter(type="render.state", data__job=job_id, data__status="canceled").count() == 1

    response = client.post(f"/api/renders/{job_id}/retry/")
    assert response.status_code == 202
    new = response.data["jobs"][0]
    assert new["id"] != job_id and (new["status"], new["seed"]) == ("queued", 7)
    assert run(new["id"]) == "succeeded"
    assert Take.objects.get().job_id == new["id"]
    assert client.post(f"/api/renders/{new['id']}/cancel/").status_code == 409  # finished


def test_job_lists_filter_by_status(api, project, shot, artist):
    client = api(artist)
    ids = [job["id"] for job in client.post(renders_url(shot), {"provider": "local", "kind": "image", "variants": 3},
                                             format="json").data["jobs"]]
    client.post(f"/api/renders/{ids[0]}/cancel/")
    active = client.get(renders_url(shot), {"status": "active"}).data
    assert sorted(job["id"] for job in active["results"]) == ids[1:]
    canceled = client.get(f"/api/projects/{project.pk}/renders/", {"status": "canceled"}).data
    assert [job["id"] for job in canceled["results"]] == [ids[0]]
    assert client.get(renders_url(shot), {"status": "bogus"}).status_code == 400


def test_duration_comes_from_the_shot_for_video(api, project, artist):
    shot = small_shot(project, duration=Decimal("2.5"))
    take = Take.objects.create(project=project, shot=shot, number=1, kind="image", media="x.png", provider="local")
    job = api(artist).post(renders_url(shot), {"provider": "local", "kind": "video", "source_take": take.pk},
                           format="json").data["jobs"][0]
    assert (job["params"]["duration_s"], job["params"]["fps"], job["params"]["source_take"]) == (2.5, 12, take.pk)
    assert job["source_take"] == take.pk


def test_creating_renders_takes_the_same_number_of_queries_for_one_or_eight_variants(api, shot, artist):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(artist)
    counts = []
    for variants in (1, 8):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(renders_url(shot), {"provider": "local", "kind": "image", "variants": variants},
                                   format="json")
        assert response.status_code == 202 and len(response.data["jobs"]) == variants
        per_event = ("INSERT INTO \"projects_event\"", "UPDATE \"projects_project\"",
                     "SELECT \"projects_project\".\"last_event_seq\"", "SAVEPOINT", "RELEASE SAVEPOINT")
        counts.append(len([q for q in queries if not q["sql"].startswith(per_event)]))
    assert counts[0] == counts[1]  # only the per-job events grow with the number of jobs


def test_a_shot_with_no_duration_can_have_stills_but_not_a_clip(api, project, artist):
    shot = small_shot(project, duration=Decimal("0"), code="SH000")
    take = Take.objects.create(project=project, shot=shot, number=1, kind="image", media="x.png", provider="local")
    client = api(artist)
    response = client.post(renders_url(shot), {"provider": "local", "kind": "video", "source_take": take.pk},
                           format="json")
    assert response.status_code == 400
    assert response.data["detail"] == ("params: the duration of SH000 (duration_s) must be a number from 0.1 to 600, "
                                       "not 0.0.")
    response = client.post(renders_url(shot), {"provider": "local", "kind": "video", "source_take": take.pk,
                                                "params": {"duration_s": 2}}, format="json")
    assert response.status_code == 202 and response.data["jobs"][0]["params"]["duration_s"] == 2.0
    assert client.post(renders_url(shot), {"provider": "local", "kind": "image"}, format="json").status_code == 202
