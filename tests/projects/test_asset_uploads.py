"""Reference image uploads: checked by content with Pillow (type, bytes, pixels, bombs,
truncation) → 400 with a clear message and nothing stored; good images → 201 with their size."""
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.models import Asset, Event
from tests.factories import image_bytes


def noise_png(width, height) -> bytes:
    """A PNG that does not compress away (so its byte size tracks its pixel count)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width=100_000, height=100_000) -> bytes:
    """A tiny, well-formed PNG whose header claims an enormous image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload(client, project, content: bytes, filename: str, content_type="image/png", **fields):
    data = {"name": "Moon over the river", "kind": "location", **fields,
            "image": SimpleUploadedFile(filename, content, content_type)}
    return client.post(f"/api/projects/{project.pk}/assets/", data, format="multipart")


REJECTIONS = {
    "text named .png": (lambda: b"this is not an image at all\n" * 20, "notes.png", "not a PNG, JPEG or WebP"),
    "truncated png": (lambda: noise_png(64, 64)[:-300], "cut.png", "truncated or damaged"),
    "truncated jpeg": (lambda: image_bytes(256, 256, fmt="JPEG")[:400], "cut.jpg", "truncated or damaged"),
    "decompression bomb": (lambda: bomb_png(), "bomb.png", "too large"),
    "gif": (lambda: image_bytes(fmt="GIF"), "anim.gif", "not a PNG, JPEG or WebP"),
    "bmp": (lambda: image_bytes(fmt="BMP"), "old.bmp", "not a PNG, JPEG or WebP"),
    "gif named .png": (lambda: image_bytes(fmt="GIF"), "sneaky.png", "not a PNG, JPEG or WebP"),
    "empty file": (lambda: b"", "empty.png", "empty"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_a_bad_upload_is_a_clear_400_and_nothing_is_stored(project, artist, api, settings, case):
    make, filename, message = REJECTIONS[case]
    before = Event.objects.filter(project=project).count()

    response = upload(api(artist), project, make(), filename)

    assert response.status_code == 400, response.json()
    body = response.json()
    assert "image" in body, body
    assert message in body["detail"], body["detail"]
    assert body["detail"].startswith("image: ")
    assert not Asset.objects.exists()
    assert stored_files(settings) == []
    assert Event.objects.filter(project=project).count() == before


def test_too_many_bytes(project, artist, api, settings):
    settings.UPLOAD_MAX_BYTES = 4000
    content = noise_png(64, 64)
    assert len(content) > 4000
    response = upload(api(artist), project, content, "big.png")
    assert response.status_code == 400
    assert "limit is 3.9 KB" in response.json()["detail"]
    assert not Asset.objects.exists() and stored_files(settings) == []


def test_too_many_pixels(project, artist, api, settings):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    response = upload(api(artist), project, image_bytes(120, 100), "wide.png")
    assert response.status_code == 400
    assert "120×100 pixels" in response.json()["detail"] and "0.01 megapixels" in response.json()["detail"]
    assert not Asset.objects.exists() and stored_files(settings) == []


def test_a_bomb_below_pillows_own_limit_is_caught_by_ours(project, artist, api, settings):
    """30 megapixels claimed in 200 bytes: Pillow would open it, our pixel limit refuses it."""
    settings.UPLOAD_MAX_PIXELS = 20_000_000
    response = upload(api(artist), project, bomb_png(6000, 5000), "bomb.png")
    assert response.status_code == 400
    assert "6000×5000" in response.json()["detail"]
    assert not Asset.objects.exists() and stored_files(settings) == []


@pytest.mark.parametrize(("fmt", "filename", "suffix"), [
    ("PNG", "moon.png", ".png"),
    ("JPEG", "moon.jpeg", ".jpg"),
    ("WEBP", "moon.webp", ".webp"),
    ("PNG", "mislabelled.jpg", ".png"),  # the stored name follows the content, not the label
])
def test_a_good_image_is_stored_with_its_size(project, artist, api, settings, fmt, filename, suffix):
    response = upload(api(artist), project, image_bytes(40, 30, fmt=fmt), filename, "application/octet-stream")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["width"], body["height"]) == (40, 30)
    assert body["name"] == "Moon over the river" and body["kind"] == "location"
    assert body["uploaded_by"]["id"] == artist.pk
    asset = Asset.objects.get(pk=body["id"])
    assert asset.image.name.startswith(f"projects/{project.pk}/assets/") and asset.image.name.endswith(suffix)
    assert [p.name for p in stored_files(settings)] == [Path(asset.image.name).name]
    assert Event.objects.filter(project=project, type="asset.created", data__asset=asset.pk).count() == 1


def test_the_stored_image_is_served_to_members_with_the_right_type(project, artist, guest, api, browser):
    response = upload(api(artist), project, image_bytes(fmt="PNG"), "mislabelled.jpg")
    url = response.json()["image"]
    path = url.split("testserver", 1)[-1]
    assert path.startswith(f"/media/projects/{project.pk}/assets/")
    served = browser(guest).get(path)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("missing", "field"), [("name", "name"), ("image", "image")])
def test_name_and_image_are_required(project, artist, api, missing, field):
    data = {"name": "Moon", "image": SimpleUploadedFile("m.png", image_bytes(), "image/png")}
    del data[missing]
    response = api(artist).post(f"/api/projects/{project.pk}/assets/", data, format="multipart")
    assert response.status_code == 400
    assert field in response.json()


def test_assets_are_listed_for_members(project, artist, guest, api):
    upload(api(artist), project, image_bytes(), "a.png")
    listing = api(guest).get(f"/api/projects/{project.pk}/assets/").json()
    assert listing["count"] == 1 and listing["results"][0]["width"] == 32
