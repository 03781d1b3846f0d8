"""Media on S3: renders, thumbnails, posters and uploads land in the bucket with the right content
types; the API hands out short-lived signed URLs that download the real bytes; /media/ redirects
members to one and gives everybody else 404; the S3 secret never shows up in output or logs.

The bucket is moto's standalone server on loopback, spoken to through django-storages and boto3
over the real S3 HTTP API; the render runs in-process on the ``local`` provider.
"""
from __future__ import annotations

import io
import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from storages.backends.s3 import S3Storage

from projects.models import Membership
from renders import pipeline, services
from renders.models import RenderStatus, Take
from tests.factories import image_bytes
from tests.renders.pipeline_support import artist_of, small_shot
from tests.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, FakeS3, use_s3


@pytest.fixture(scope="module")
def fake_s3():
    with FakeS3() as server:
        yield server


@pytest.fixture
def bucket(fake_s3, settings):
    name = fake_s3.new_bucket()
    use_s3(settings, fake_s3, name)
    assert isinstance(storages["default"], S3Storage)  # Django rebuilt its default storage
    return name


@pytest.fixture
def logs(caplog):
    """Everything logged at DEBUG (boto, storages, the pipeline), to check for the secret."""
    caplog.set_level(logging.DEBUG)
    return caplog


def render(shot, user, kind, **fields) -> Take:
    membership = Membership.objects.get(project=shot.project, user=user)
    (job,) = services.create_render_jobs(membership, shot, provider="local", kind=kind, **fields)
    outcome = pipeline.run_job(job.pk)
    job.refresh_from_db()
    assert (outcome.result, job.status) == ("succeeded", RenderStatus.SUCCEEDED), job.error
    return Take.objects.get(job=job)


def assert_signed(url: str, fake_s3: FakeS3, bucket: str, key: str) -> None:
    """A path-style URL on the fake endpoint for exactly ``key``, SigV4-signed for 300 s, no secret."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == fake_s3.endpoint_url
    assert parts.path == f"/{bucket}/{key}"
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-Credential"][0].startswith(ACCESS_KEY_ID + "/")
    assert len(query["X-Amz-Signature"][0]) == 64
    assert SECRET_ACCESS_KEY not in url


def download(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return response


@pytest.mark.django_db
def test_image_and_video_takes_live_in_the_bucket_behind_signed_urls(fake_s3, bucket, project, api, logs):
    shot = small_shot(project)
    artist = artist_of(project)
    client = api(artist)

    image = render(shot, artist, "image")
    video = render(shot, artist, "video", source_take=image.pk)  # the key frame is read back from S3

    prefix = f"projects/{project.pk}/takes/"
    stored = {image.media.name, image.thumbnail.name, video.media.name, video.thumbnail.name, video.poster.name}
    assert all(name.startswith(prefix) for name in stored) and len(stored) == 5
    assert fake_s3.keys(bucket) == sorted(stored)  # nothing else, nothing on the local disk path
    assert image.poster.name == ""
    expected_types = {image.media.name: "image/png", image.thumbnail.name: "image/jpeg",
                      video.media.name: "video/mp4", video.thumbnail.name: "image/jpeg", video.poster.name: "image/jpeg"}
    assert {key: fake_s3.head(bucket, key)["ContentType"] for key in stored} == expected_types
    assert (image.content_type, video.content_type) == ("image/png", "video/mp4")

    image_data = client.get(f"/api/takes/{image.pk}/").json()
    video_data = client.get(f"/api/takes/{video.pk}/").json()
    assert image_data["poster_url"] is None
    for data, take, fields in [(image_data, image, ("media", "thumbnail")),
                               (video_data, video, ("media", "thumbnail", "poster"))]:
        for field in fields:
            assert_signed(data[f"{field}_url"], fake_s3, bucket, getattr(take, field).name)

    png = download(image_data["media_url"])
    assert png.content == fake_s3.get(bucket, image.media.name)
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (160, 90)
    thumb = Image.open(io.BytesIO(download(image_data["thumbnail_url"]).content))
    assert thumb.format == "JPEG" and thumb.width <= 160

    mp4 = download(video_data["media_url"])
    assert mp4.headers["content-type"] == "video/mp4"
    assert mp4.content[4:8] == b"ftyp" and len(mp4.content) == fake_s3.head(bucket, video.media.name)["ContentLength"]
    poster = Image.open(io.BytesIO(download(video_data["poster_url"]).content))
    assert poster.format == "JPEG" and poster.size == (160, 90)
    assert Image.open(io.BytesIO(download(video_data["thumbnail_url"]).content)).format == "JPEG"

    listed = client.get(f"/api/shots/{shot.pk}/takes/").content.decode()
    assert SECRET_ACCESS_KEY not in listed and "X-Amz-Signature" in listed
    assert SECRET_ACCESS_KEY not in logs.text


@pytest.mark.django_db
def test_asset_upload_lands_in_the_bucket(fake_s3, bucket, project, artist, api, logs):
    content = image_bytes(48, 32, fmt="PNG")
    response = api(artist).post(
        f"/api/projects/{project.pk}/assets/",
        {"name": "Moon over the river", "kind": "location", "image": SimpleUploadedFile("moon.png", content, "image/png")},
        format="multipart")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["width"], data["height"]) == (48, 32)
    (key,) = fake_s3.keys(bucket, f"projects/{project.pk}/assets/")
    assert fake_s3.get(bucket, key) == content
    assert fake_s3.head(bucket, key)["ContentType"] == "image/png"
    assert_signed(data["image"], fake_s3, bucket, key)
    assert download(data["image"]).content == content
    assert SECRET_ACCESS_KEY not in response.content.decode() and SECRET_ACCESS_KEY not in logs.text


@pytest.mark.django_db
def test_media_view_redirects_members_to_a_signed_url_and_hides_it_from_others(
        fake_s3, bucket, project, artist, outsider, logs):
    key = default_storage.save(f"projects/{project.pk}/takes/clip.png", io.BytesIO(image_bytes(20, 10)))
    assert fake_s3.keys(bucket) == [key]

    member_client, outsider_client, anonymous = Client(), Client(), Client()
    member_client.force_login(artist)
    outsider_client.force_login(outsider)

    response = member_client.get(f"/media/{key}")
    assert response.status_code == 302
    assert_signed(response["Location"], fake_s3, bucket, key)
    assert "no-store" in response["Cache-Control"]  # the URL expires: nobody may cache the redirect
    assert Image.open(io.BytesIO(download(response["Location"]).content)).size == (20, 10)

    for client in (outsider_client, anonymous):
        assert client.get(f"/media/{key}").status_code == 404
        assert client.get(f"/media/projects/{project.pk}/takes/missing.png").status_code == 404
    assert member_client.get(f"/media/projects/{project.pk}/takes/missing.png").status_code == 404
    assert SECRET_ACCESS_KEY not in logs.text


@pytest.mark.django_db
def test_a_missing_bucket_fails_the_job_readably_without_leaking_the_secret(fake_s3, settings, project, api, logs):
    use_s3(settings, fake_s3, "studio-test-no-such-bucket")
    shot = small_shot(project)
    artist = artist_of(project)
    membership = Membership.objects.get(project=project, user=artist)
    (job,) = services.create_render_jobs(membership, shot, provider="local", kind="image")
    assert pipeline.run_job(job.pk).result == "failed"
    job.refresh_from_db()
    assert job.status == RenderStatus.FAILED and not Take.objects.filter(job=job).exists()
    assert "failed unexpectedly" in job.error, job.error
    shown = api(artist).get(f"/api/renders/{job.pk}/").content.decode()
    assert "failed unexpectedly" in shown
    assert SECRET_ACCESS_KEY not in shown and SECRET_ACCESS_KEY not in job.error
    assert "NoSuchBucket" in logs.text  # the worker log has the details …
    assert SECRET_ACCESS_KEY not in logs.text  # … but never the secret
