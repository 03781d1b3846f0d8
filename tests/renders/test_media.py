"""Media helpers: probing ordinary and broken files, thumbnails, posters, upload checks, frames."""

from __future__ import annotations

import io
import shlex
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from renders.media import (
    MediaError,
    extract_poster,
    ffmpeg_exe,
    frame_at,
    make_thumbnail,
    probe,
    time_of_frame,
    timecode,
    validate_image_upload,
)

MB = 1024 * 1024


def ffmpeg(cmd: str, out: Path) -> Path:
    """Run ffmpeg with ``cmd`` (shell-style words), writing ``out``."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *shlex.split(cmd), str(out)]
    subprocess.run(args, check=True, timeout=60)
    return out


#: frame n has luma 16 + 8n: a still's brightness says which frame it is
RAMP = "-f lavfi -i nullsrc=size=64x36:rate=24,geq=lum='16+8*N':cb=128:cr=128 -c:v libx264 -qp 0 -pix_fmt yuv420p"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Small real files made by ffmpeg: the kinds people upload, and broken ones."""
    d = tmp_path_factory.mktemp("clips")
    testsrc = "-f lavfi -i testsrc=size={size}:rate={rate}"
    h264 = "-c:v libx264 -pix_fmt yuv420p -movflags +faststart"
    c = {
        "h264.mp4": ffmpeg(f"{testsrc.format(size='160x90', rate=24)} -t 1 {h264}", d / "h264.mp4"),
        "prores_audio.mov": ffmpeg(
            f"{testsrc.format(size='64x36', rate=25)} -f lavfi -i sine=frequency=440 -t 1 -shortest "
            "-c:v prores_ks -c:a pcm_s16le",
            d / "prores_audio.mov",
        ),
        "odd.mov": ffmpeg(f"{testsrc.format(size='161x91', rate=30)} -t 0.5 -c:v png", d / "odd.mov"),
        "vp9.webm": ffmpeg(
            f"{testsrc.format(size='96x54', rate=30)} -t 1 -c:v libvpx-vp9 -deadline realtime -b:v 200k",
            d / "vp9.webm",
        ),
        "ramp.mp4": ffmpeg(f"{RAMP} -frames:v 24", d / "ramp.mp4"),
        "short.mp4": ffmpeg(f"{RAMP} -frames:v 12", d / "short.mp4"),
        "audio.m4a": ffmpeg("-f lavfi -i sine -t 1", d / "audio.m4a"),
    }
    c["rotated.mp4"] = ffmpeg(f"-display_rotation 90 -i {shlex.quote(str(c['h264.mp4']))} -c copy", d / "rotated.mp4")

    big = ffmpeg(f"{testsrc.format(size='320x180', rate=24)} -t 2 {h264}", d / "big.mp4")
    data = big.read_bytes()
    c["truncated.mp4"] = d / "truncated.mp4"
    c["truncated.mp4"].write_bytes(data[: len(data) // 2])  # index intact, frames missing
    c["garbage.mp4"] = d / "garbage.mp4"
    c["garbage.mp4"].write_bytes(b"this is not a video at all\n" * 20)
    c["empty.mov"] = d / "empty.mov"
    c["empty.mov"].write_bytes(b"")
    return c


# --- probe ----------------------------------------------------------------------------


def test_probe_h264_mp4_without_audio(clips):
    info = probe(clips["h264.mp4"])
    assert (info.kind, info.codec, info.pixel_format) == ("video", "h264", "yuv420p")
    assert (info.width, info.height, info.fps, info.frame_count) == (160, 90, 24, 24)
    assert info.duration_s == pytest.approx(1.0, abs=1 / 24)
    assert info.has_audio is False


def test_probe_mov_with_audio(clips):
    info = probe(clips["prores_audio.mov"])
    assert (info.codec, info.width, info.height, info.fps, info.frame_count) == ("prores", 64, 36, 25, 25)
    assert info.has_audio is True
    assert "mov" in info.container


def test_probe_odd_size_and_webm(clips):
    odd = probe(clips["odd.mov"])
    assert (odd.width, odd.height, odd.fps, odd.frame_count) == (161, 91, 30, 15)
    webm = probe(clips["vp9.webm"])
    assert (webm.codec, webm.width, webm.height, webm.frame_count) == ("vp9", 96, 54, 30)
    assert "webm" in webm.container


def test_probe_reports_phone_rotation_as_displayed_size(clips):
    info = probe(clips["rotated.mp4"])
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (90, 160)


def test_probe_images(tmp_path):
    png = tmp_path / "a.png"
    Image.new("RGBA", (33, 17), (1, 2, 3, 4)).save(png)
    info = probe(png)
    assert (info.kind, info.width, info.height, info.frame_count, info.codec) == ("image", 33, 17, 1, "png")
    assert info.duration_s is None and info.fps is None and not info.has_audio

    portrait = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90°
    Image.new("RGB", (40, 20), "red").save(portrait, exif=exif)
    assert (probe(portrait).width, probe(portrait).height) == (20, 40)


@pytest.mark.parametrize(
    "name, words",
    [
        ("truncated.mp4", "truncated"),
        ("garbage.mp4", "not an image or video"),
        ("empty.mov", "empty"),
        ("audio.m4a", "no video stream"),
    ],
)
def test_probe_rejects_broken_files_with_a_clear_message(clips, name, words):
    with pytest.raises(MediaError) as excinfo:
        probe(clips[name])
    assert words in excinfo.value.message


def test_probe_rejects_a_truncated_image_and_a_missing_file(tmp_path):
    good = tmp_path / "good.png"
    Image.effect_noise((64, 64), 50).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(MediaError, match="truncated"):
        probe(cut)
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "nope.mp4")


# --- thumbnails and posters -------------------------------------------------------------


def test_thumbnail_fits_the_box_and_keeps_the_aspect(tmp_path):
    src = tmp_path / "frame.png"
    Image.new("RGB", (1280, 720), (200, 100, 50)).save(src)
    dest = tmp_path / "thumb.jpg"
    assert make_thumbnail(src, dest) == (480, 270)
    with Image.open(dest) as im:
        assert (im.format, im.size, im.mode) == ("JPEG", (480, 270), "RGB")

    webp = tmp_path / "thumb.webp"
    assert make_thumbnail(src, webp, max_size=(100, 100)) == (100, 56)
    with Image.open(webp) as im:
        assert im.format == "WEBP" and im.size == (100, 56)


def test_thumbnail_respects_exif_orientation_and_converts_modes(tmp_path):
    phone = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (400, 200), "blue").save(phone, exif=exif)
    assert make_thumbnail(phone, tmp_path / "t1.jpg") == (135, 270)  # shown portrait

    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (50, 50), (255, 0, 0, 0)).save(rgba)
    assert make_thumbnail(rgba, tmp_path / "t2.jpg") == (50, 50)

    deep = tmp_path / "deep.png"
    Image.new("I;16", (40, 40), 32768).save(deep)  # 16-bit grey at half scale
    make_thumbnail(deep, tmp_path / "t3.jpg")
    with Image.open(tmp_path / "t3.jpg") as im:
        assert 110 < ImageStat.Stat(im.convert("L")).mean[0] < 146  # not clipped to white

    with pytest.raises(MediaError):
        make_thumbnail(tmp_path / "t3.jpg", tmp_path / "bad.gif")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    with pytest.raises(MediaError):
        make_thumbnail(broken, tmp_path / "t4.jpg")


def ramp_frame_of(path: Path) -> int:
    """Which frame of the ramp clip a still shows.

    Frame n has video-range luma 16 + 8n; the RGB poster is full range, so 16 maps to 0 and
    each step of 8 to 8 * 255 / 219.
    """
    with Image.open(path) as im:
        luma = ImageStat.Stat(im.convert("L")).mean[0]
    return round(luma / (8 * 255 / 219))


def test_poster_defaults_to_a_third_in_and_is_frame_accurate(clips, tmp_path):
    dest = tmp_path / "poster.jpg"
    assert extract_poster(clips["ramp.mp4"], dest) == (64, 36)
    with Image.open(dest) as im:
        assert im.format == "JPEG"
    assert ramp_frame_of(dest) == frame_at(1.0 / 3, 24) == 8

    exact = tmp_path / "exact.png"
    extract_poster(clips["ramp.mp4"], exact, at_s=time_of_frame(17, 24))
    assert ramp_frame_of(exact) == 17
    beyond = tmp_path / "beyond.png"
    extract_poster(clips["ramp.mp4"], beyond, at_s=99)
    assert ramp_frame_of(beyond) == 23  # clamped to the last frame


def test_poster_of_a_very_short_clip_is_frame_zero(clips, tmp_path):
    dest = tmp_path / "short.png"
    extract_poster(clips["short.mp4"], dest)
    assert ramp_frame_of(dest) == 0


def test_poster_of_odd_sized_mov_and_broken_file(clips, tmp_path):
    assert extract_poster(clips["odd.mov"], tmp_path / "odd.jpg") == (161, 91)
    with pytest.raises(MediaError):
        extract_poster(clips["garbage.mp4"], tmp_path / "g.jpg")
    assert not (tmp_path / "g.jpg").exists()


# --- upload validation ----------------------------------------------------------------


def encoded(fmt: str, size=(64, 48), mode="RGB", **options) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.effect_noise(size, 40).convert(mode).save(buffer, fmt, **options)
    buffer.seek(0)
    return buffer


def png_claiming(width: int, height: int) -> io.BytesIO:
    """A tiny, well-formed PNG whose header claims ``width``×``height`` pixels."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return io.BytesIO(data)


LIMITS = {"max_bytes": 5 * MB, "max_pixels": 40_000_000}


@pytest.mark.parametrize("fmt, expected", [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WEBP")])
def test_upload_accepts_png_jpeg_webp_and_rewinds(fmt, expected):
    fileobj = encoded(fmt)
    fileobj.read(10)
    assert validate_image_upload(fileobj, **LIMITS) == (expected, 64, 48)
    assert fileobj.tell() == 0


def test_upload_accepts_a_django_uploaded_file():
    uploadedfile = pytest.importorskip("django.core.files.uploadedfile")
    upload = uploadedfile.SimpleUploadedFile("key.webp", encoded("WEBP").getvalue(), content_type="image/webp")
    assert validate_image_upload(upload, **LIMITS) == ("WEBP", 64, 48)
    assert upload.tell() == 0


def reject(fileobj, **limits) -> str:
    with pytest.raises(MediaError) as excinfo:
        validate_image_upload(fileobj, **{**LIMITS, **limits})
    assert fileobj.tell() == 0
    return excinfo.value.message


def test_upload_rejects_text_named_png_and_other_formats():
    assert reject(io.BytesIO(b"hello, I am text pretending to be key.png")) == "File is not a PNG, JPEG or WebP image."
    assert reject(encoded("GIF", mode="P")) == "File is not a PNG, JPEG or WebP image."
    assert reject(io.BytesIO(b"")) == "The file is empty."


def test_upload_rejects_truncated_files():
    for fmt in ("PNG", "JPEG"):
        data = encoded(fmt, size=(200, 150)).getvalue()
        message = reject(io.BytesIO(data[: len(data) // 2]))
        assert "truncated or damaged" in message, (fmt, message)


def test_upload_rejects_too_many_bytes():
    message = reject(encoded("PNG", size=(300, 300)), max_bytes=100 * 1024)
    assert message.startswith("File is ") and message.endswith("; the limit is 100 KB.")


def test_upload_rejects_too_many_pixels():
    assert (
        reject(encoded("PNG", size=(300, 200)), max_pixels=50_000)
        == "Image is 300×200 pixels; the limit is 0.05 megapixels."
    )
    assert reject(png_claiming(9000, 9000)) == "Image is 9000×9000 pixels; the limit is 40 megapixels."


def test_upload_rejects_decompression_bombs_whatever_the_limit():
    # 10 gigapixels: Pillow refuses to open it at all
    assert "too large to open safely" in reject(png_claiming(100_000, 100_000), max_pixels=10**12)
    # 100 megapixels: past Pillow's warning threshold, which we treat as an error too
    assert "too large to open safely" in reject(png_claiming(10_000, 10_000), max_pixels=10**12)


# --- frames and time --------------------------------------------------------------------


def test_frame_at_uses_floor_with_a_tolerance():
    assert frame_at(0, 24) == 0
    assert frame_at(1 / 24 * 5, 24) == 5  # 4.9999999 in floating point is still frame 5
    assert frame_at(0.99, 24) == 23
    assert frame_at(1.0, 24) == 24
    assert frame_at(1.0, 30000 / 1001) == 29


@pytest.mark.parametrize("fps", [24, 25, 30, 60, 24000 / 1001, 30000 / 1001, 12.5])
def test_frame_and_time_round_trip(fps):
    for n in range(0, 5000, 7):
        assert frame_at(time_of_frame(n, fps), fps) == n
        # any moment inside the frame belongs to it
        assert frame_at(time_of_frame(n, fps) + 0.5 / fps, fps) == n


def test_timecode():
    assert timecode(0, 24) == "00:00:00:00"
    assert timecode(23, 24) == "00:00:00:23"
    assert timecode(24 * 3661 + 5, 24) == "01:01:01:05"
    assert timecode(30, 30000 / 1001) == "00:00:01:00"  # non-drop-frame count at 30


@pytest.mark.parametrize(
    "call", [lambda: frame_at(1, 0), lambda: frame_at(-1, 24), lambda: time_of_frame(-1, 24), lambda: timecode(1, -5)]
)
def test_frame_helpers_reject_nonsense(call):
    with pytest.raises(ValueError):
        call()
