"""Media helpers every take goes through, whatever provider made it.

Probing, thumbnails, posters and upload checks live here so that one piece of code decides
what a "frame" is and how ordinary files (no audio, MOV, WebM, odd sizes, phone rotation)
are read. Failures become ``MediaError`` with a message fit to show a person, never a
traceback from Pillow or ffmpeg.

Video work uses the ffmpeg binary shipped in the ``imageio-ffmpeg`` wheel (or the one named
by ``IMAGEIO_FFMPEG_EXE``), so nothing needs installing system-wide.

Frame convention (one definition for API, player and tests): a frame is an integer, the
first frame is 0, ``frame = floor(t * fps + 1e-6)`` and frame n starts at ``n / fps``.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

#: Upload formats accepted for reference assets and key frames (Pillow format names).
UPLOAD_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WEBP"}
#: How long an ffmpeg call may take before we give up on the file.
FFMPEG_TIMEOUT_S = 120


class MediaError(Exception):
    """A media file that cannot be used, with a message fit to show a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image" or "video"
    width: int  # as displayed (EXIF orientation / rotation metadata applied)
    height: int
    duration_s: float | None  # None for images
    fps: float | None  # None for images
    frame_count: int  # 1 for images
    codec: str  # "h264", "vp9", "prores", "png", "jpeg", ...
    has_audio: bool
    container: str = ""  # "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "PNG", ...
    pixel_format: str = ""  # "yuv420p" (what browsers play), "rgb24", ...; image mode for stills
    rotation: int = 0  # degrees the player must rotate the stored frames (0, 90, 180, 270)


# --- frames and time -------------------------------------------------------------------


def _check_fps(fps: float) -> float:
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, not {fps!r}")
    return fps


def frame_at(t_seconds: float, fps: float) -> int:
    """The frame shown at time ``t_seconds`` (first frame 0)."""
    _check_fps(fps)
    if t_seconds < 0:
        raise ValueError("time must not be negative")
    return math.floor(t_seconds * fps + 1e-6)


def time_of_frame(frame: int, fps: float) -> float:
    """When ``frame`` starts, in seconds."""
    _check_fps(fps)
    if frame < 0:
        raise ValueError("frame must not be negative")
    return frame / fps


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF`` for ``frame`` (non-drop-frame; 23.976 counts in 24s, 29.97 in 30s)."""
    _check_fps(fps)
    if frame < 0:
        raise ValueError("frame must not be negative")
    base = max(1, round(fps))
    seconds, ff = divmod(int(frame), base)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


# --- ffmpeg ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (imageio-ffmpeg's, unless IMAGEIO_FFMPEG_EXE names another)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _run_ffmpeg(args: list[str], *, timeout: float = FFMPEG_TIMEOUT_S) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"Reading the video took longer than {timeout:g} s; the file may be damaged.") from exc
    except OSError as exc:
        raise MediaError(f"Could not run ffmpeg: {exc}") from exc


_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_INPUT_RE = re.compile(r"^Input #0, (.+?), from ", re.MULTILINE)
_DURATION_RE = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_SIZE_RE = re.compile(r"(?<![\w.])(\d{1,5})x(\d{1,5})(?![\w.])")
_FPS_RE = re.compile(r"(\d+(?:\.\d+)?)(k?) (fps|tbr)\b")
_ROTATION_RE = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees", re.IGNORECASE)
#: Demuxer complaints that mean the data ends (or breaks) before the index says it should.
_DAMAGE_MARKERS = ("partial file", "corrupt input packet", "Packet corrupt", "moov atom not found")
#: Rates players display rounded; snap them back to the exact NTSC fractions.
_NTSC = {23.98: 24000 / 1001, 29.97: 30000 / 1001, 59.94: 60000 / 1001, 47.95: 48000 / 1001}


def _split_top(spec: str) -> list[str]:
    """Split an ffmpeg stream description on the commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for ch in spec:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _parse_fps(spec: str) -> float | None:
    values = {}
    for number, kilo, unit in _FPS_RE.findall(spec):
        value = float(number) * (1000 if kilo else 1)
        values.setdefault(unit, value)
    fps = values.get("fps") or values.get("tbr")
    if not fps:
        return None
    return _NTSC.get(round(fps, 2), fps)


def _probe_video(path: Path, timeout: float) -> MediaInfo:
    # One pass: the header describes the streams, decoding the video to the null muxer counts
    # the frames and shows truncation (a moov index promising more than the file holds).
    proc = _run_ffmpeg(
        ["-nostats", "-progress", "pipe:1", "-i", str(path), "-map", "0:V:0?", "-f", "null", "-"],
        timeout=timeout,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    stdout = proc.stdout.decode("utf-8", "replace")
    container = _INPUT_RE.search(stderr)
    if not container:
        with open(path, "rb") as fh:
            head = fh.read(12)
        if "moov atom not found" in stderr and head[4:8] in (b"ftyp", b"mdat", b"wide", b"free", b"moov"):
            raise MediaError(
                "The video file is incomplete (its index is missing); "
                "it was probably cut off while uploading or rendering."
            )
        raise MediaError("This file is not an image or video that can be read.")

    streams = _STREAM_RE.findall(stderr.split("Stream mapping:")[0].split("Output #0")[0])
    video_specs = [spec for kind, spec in streams if kind == "Video" and "(attached pic)" not in spec]
    has_audio = any(kind == "Audio" for kind, _ in streams)
    if not video_specs:
        raise MediaError("The file has no video stream" + (" (it is audio only)." if has_audio else "."))
    spec = video_specs[0]
    items = _split_top(spec)
    codec = items[0].split()[0].strip()
    pix = re.match(r"[a-z0-9_]+", items[1]) if len(items) > 1 else None
    size = _SIZE_RE.search(spec)
    if not size:
        raise MediaError("The video stream has no readable frame size.")
    width, height = int(size.group(1)), int(size.group(2))
    fps = _parse_fps(spec)

    rotation = 0
    match = _ROTATION_RE.search(stderr.split("Stream mapping:")[0])
    if match:
        rotation = round(float(match.group(1))) % 360
        if rotation in (90, 270):
            width, height = height, width

    frames = re.findall(r"^frame=(\d+)", stdout, re.MULTILINE)
    frame_count = int(frames[-1]) if frames else 0
    out_us = re.findall(r"^out_time_us=(\d+)", stdout, re.MULTILINE)

    duration = None
    match = _DURATION_RE.search(stderr)
    if match:
        hh, mm, ss = match.groups()
        duration = int(hh) * 3600 + int(mm) * 60 + float(ss)
    if not duration and fps and frame_count:
        duration = frame_count / fps
    if not duration and out_us:
        duration = int(out_us[-1]) / 1e6
    if not fps and duration and frame_count:
        fps = frame_count / duration

    if frame_count == 0:
        raise MediaError("The video has no frames that can be decoded; the file is damaged or unsupported.")
    expected = duration * fps if (duration and fps) else None
    damaged = any(marker in stderr for marker in _DAMAGE_MARKERS)
    if damaged or (expected and frame_count < 0.9 * expected - 1):
        raise MediaError(
            f"The video is truncated or damaged: only {frame_count} of about {round(expected or 0)} frames "
            "can be decoded."
            if expected
            else "The video is truncated or damaged."
        )
    return MediaInfo(
        kind="video",
        width=width,
        height=height,
        duration_s=round(duration, 6) if duration else None,
        fps=fps,
        frame_count=frame_count,
        codec=codec,
        has_audio=has_audio,
        container=container.group(1),
        pixel_format=pix.group(0) if pix else "",
        rotation=rotation,
    )


def _probe_image(path: Path) -> MediaInfo | None:
    """MediaInfo for a still image, None when Pillow does not recognise the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format == "MPEG":  # Pillow sniffs MPEG-1 headers; that is a video.
                    return None
                fmt = im.format or ""
                mode = im.mode
                width, height = im.size
                orientation = im.getexif().get(0x0112, 1)
                im.load()
    except UnidentifiedImageError:
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"The image is too large to open safely ({exc}).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"The image file is truncated or damaged ({exc}).") from exc
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return MediaInfo(
        kind="image",
        width=width,
        height=height,
        duration_s=None,
        fps=None,
        frame_count=1,
        codec=fmt.lower(),
        has_audio=False,
        container=fmt,
        pixel_format=mode,
    )


def probe(path: str | os.PathLike, *, timeout: float = FFMPEG_TIMEOUT_S) -> MediaInfo:
    """Describe an image or video file, or raise MediaError saying why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"File not found: {path.name}")
    if path.stat().st_size == 0:
        raise MediaError("The file is empty.")
    info = _probe_image(path)
    if info is not None:
        return info
    return _probe_video(path, timeout)


# --- thumbnails and posters -----------------------------------------------------------


def _flatten(im: Image.Image, background=(20, 20, 22)) -> Image.Image:
    """RGB copy of any mode: transparency laid over ``background``, CMYK/16-bit/palette converted."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        base.alpha_composite(rgba)
        return base.convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale (PNG): scale to 8 bits instead of letting convert() clip at 255.
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    return im.convert("RGB") if im.mode != "RGB" else im


def _save_still(im: Image.Image, dest: Path, *, quality: int = 85) -> None:
    """Write JPEG/WebP/PNG by suffix, atomically (readers never see half a file)."""
    suffix = dest.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        fmt, options = "JPEG", {"quality": quality, "optimize": True, "progressive": True}
        im = _flatten(im)
    elif suffix == ".webp":
        fmt, options = "WEBP", {"quality": quality, "method": 4}
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
    elif suffix == ".png":
        fmt, options = "PNG", {}
        if im.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            im = _flatten(im)
    else:
        raise MediaError(f"Cannot write a still image as '{dest.suffix}'; use .jpg, .webp or .png.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=dest.suffix, dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            im.save(fh, fmt, **options)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_thumbnail(
    src_image_path: str | os.PathLike,
    dest_path: str | os.PathLike,
    max_size: tuple[int, int] = (480, 270),
) -> tuple[int, int]:
    """Write a JPEG/WebP (by ``dest_path`` suffix) fitting ``max_size``, upright; return its size."""
    src, dest = Path(src_image_path), Path(dest_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as im:
                im.draft("RGB", (max_size[0] * 2, max_size[1] * 2))  # JPEG: decode at reduced scale
                im = ImageOps.exif_transpose(im)
                im.thumbnail(max_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    except FileNotFoundError as exc:
        raise MediaError(f"File not found: {src.name}") from exc
    except UnidentifiedImageError as exc:
        raise MediaError("The file is not an image that can be read.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError("The image is too large to open safely.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"The image file is truncated or damaged ({exc}).") from exc
    _save_still(im, dest)
    return im.size


def extract_poster(
    video_path: str | os.PathLike,
    dest_path: str | os.PathLike,
    at_s: float | None = None,
) -> tuple[int, int]:
    """Write one full-size frame of the video as a still (JPEG/WebP/PNG by suffix); return its size.

    By default the frame a third of the way in (openings are often black or static), frame 0
    for clips under a second.
    """
    video, dest = Path(video_path), Path(dest_path)
    info = probe(video)
    if info.kind != "video":
        raise MediaError("A poster can only be taken from a video.")
    fps = info.fps or 24.0
    duration = info.duration_s or info.frame_count / fps
    if at_s is None:
        at_s = duration / 3 if duration >= 1.0 else 0.0
    last = max(0, info.frame_count - 1)
    frame = min(frame_at(max(0.0, at_s), fps), last)
    for attempt in (frame, 0):
        # Seek to half a frame before the target: accurate seeking drops frames that start
        # earlier, so the first frame kept is exactly ``attempt``.
        seek = max(0.0, (attempt - 0.5) / fps)
        args = ["-v", "error", "-ss", f"{seek:.6f}", "-i", str(video)]
        proc = _run_ffmpeg([*args, *"-map 0:V:0 -frames:v 1 -f image2pipe -c:v png -".split()])
        if proc.stdout:
            break
    else:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no frame decoded"]
        raise MediaError(f"Could not take a poster frame from the video ({reason[0]}).")
    with Image.open(io.BytesIO(proc.stdout)) as im:
        im.load()
        _save_still(im, dest, quality=90)
        return im.size


# --- upload checks ----------------------------------------------------------------------


def _human_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} bytes"


def _byte_size(fileobj: BinaryIO) -> int:
    size = getattr(fileobj, "size", None)  # Django's UploadedFile knows it already
    if isinstance(size, int):
        return size
    fileobj.seek(0, os.SEEK_END)
    return fileobj.tell()


def validate_image_upload(fileobj: BinaryIO, *, max_bytes: int, max_pixels: int) -> tuple[str, int, int]:
    """Check an uploaded image by its content; return (format, width, height) or raise MediaError.

    Accepts PNG, JPEG and WebP only, whatever the file name or declared content type says.
    Decodes the whole image (bounded by ``max_pixels``) so truncated files are caught here,
    not later in a worker. Leaves ``fileobj`` at position 0.
    """
    try:
        size = _byte_size(fileobj)
        if size == 0:
            raise MediaError("The file is empty.")
        if size > max_bytes:
            raise MediaError(f"File is {_human_bytes(size)}; the limit is {_human_bytes(max_bytes)}.")
        fileobj.seek(0)
        not_an_image = MediaError("File is not a PNG, JPEG or WebP image.")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                with Image.open(fileobj) as im:
                    fmt = UPLOAD_FORMATS.get(im.format or "")
                    width, height = im.size
                    if fmt is None:
                        raise not_an_image
                    if width * height > max_pixels:
                        raise MediaError(
                            f"Image is {width}×{height} pixels; the limit is {max_pixels / 1e6:g} megapixels."
                        )
                    im.verify()  # structure and checksums (PNG CRCs) without decoding
                fileobj.seek(0)
                with Image.open(fileobj) as im:
                    im.load()  # decoding catches truncated JPEG/WebP data verify() cannot see
            except UnidentifiedImageError as exc:
                raise not_an_image from exc
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                dims = re.search(r"\((\d+) pixels\)", str(exc))
                claimed = f" (it claims {int(dims.group(1)) / 1e6:,.0f} megapixels)" if dims else ""
                raise MediaError(
                    f"Image is too large to open safely{claimed}; the limit is {max_pixels / 1e6:g} megapixels."
                ) from exc
            except MediaError:
                raise
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise MediaError("The image file is truncated or damaged.") from exc
        return fmt, width, height
    finally:
        try:
            fileobj.seek(0)
        except (OSError, ValueError):
            pass
