"""The offline ``local`` back end: real PNG key frames and H.264 animatics, no network, no keys.

It lets the whole studio loop (render → take → review → cut) run on a laptop and in tests.
Everything is deterministic by (prompt, seed): the same request gives byte-identical PNGs.

Text-to-image paints a guofeng (Chinese ink-and-colour) landscape from the prompt: words in
the prompt pick the palette and motifs (月 → night and moon, 雪 → snow, 舟 → a boat, 松 → a pine,
...), the seed picks everything else (layout, mountain shapes, which optional motifs appear).
Image-to-video makes an animatic: a slow push-in, pull-out, pan or tilt over the key frame
with drifting mist for parallax, snow or rain when the prompt asks, and a burned-in frame
counter so reviewers can quote exact frames. Frames are piped as raw RGB into the ffmpeg
binary from the imageio-ffmpeg wheel.

This module is the adapter (validation, progress and cancel, PNG writing, the ffmpeg encode);
the picture is made by local_scene (prompt → plan), local_painter and local_foreground (the
key frame), local_ink (brush primitives) and local_motion (the animatic's frames). Their
public names are re-exported here.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from renders.media import ffmpeg_exe
from renders.providers.base import (
    CancelCheck,
    OutputFile,
    PermanentProviderError,
    ProgressCallback,
    Provider,
    RenderCanceled,
    RenderRequest,
    RenderResult,
    TransientProviderError,
)
from renders.providers.local_motion import MOTIONS, _Animatic, camera_box
from renders.providers.local_painter import caption_height, draw_caption, paint_scene, render_keyframe
from renders.providers.local_scene import (
    MOTIF_CHANCE,
    MOTIF_WORDS,
    PALETTE_WORDS,
    PALETTES,
    RGB,
    SEAL_TEXTS,
    Palette,
    ScenePlan,
    _Rng,
    _words,
    plan_scene,
)

__all__ = [
    "CAPTION_KEY",
    "ENCODE_TIMEOUT_S",
    "ENCODER_ARGS",
    "MAX_DURATION_S",
    "MAX_FPS",
    "MAX_LATENCY_S",
    "MAX_SIDE",
    "MAX_VIDEO_PIXELS",
    "MIN_SIDE",
    "MOTIF_CHANCE",
    "MOTIF_WORDS",
    "MOTIONS",
    "PALETTE_WORDS",
    "PALETTES",
    "RGB",
    "SEAL_TEXTS",
    "LocalProvider",
    "Palette",
    "ScenePlan",
    "camera_box",
    "caption_height",
    "draw_caption",
    "paint_scene",
    "plan_scene",
    "render_keyframe",
]

MIN_SIDE = 16
MAX_SIDE = 4096
#: Video frames are piped uncompressed; keep them at most about 4K UHD.
MAX_VIDEO_PIXELS = 4096 * 2304
MAX_DURATION_S = 60.0
MAX_FPS = 60
MAX_LATENCY_S = 3600.0
#: PNG text key holding the caption bar height, so an animatic keeps our own bar still.
CAPTION_KEY = "shotstudio:caption_px"


# --- the provider ---------------------------------------------------------------------


@dataclass
class _Job:
    kind: str
    seed: int
    width: int
    height: int
    latency_s: float
    palette: str | None
    fps: int = 24
    frame_count: int = 1
    motion: str = ""
    burn_in: bool = True
    mist: bool = True


class _Pacer:
    """Reports progress, honours cancel, and spreads the artificial latency over the steps."""

    def __init__(self, report: ProgressCallback, is_canceled: CancelCheck, latency_s: float, steps: int):
        self.report, self.is_canceled = report, is_canceled
        self.per_step = latency_s / max(1, steps)
        self.last = 0.0

    def check(self) -> None:
        if self.is_canceled():
            raise RenderCanceled()

    def step(self, fraction: float, message: str) -> None:
        self.check()
        deadline = time.monotonic() + self.per_step
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.1, left))
            self.check()
        self.last = max(self.last, min(1.0, fraction))
        self.report(self.last, message)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "render"


class LocalProvider(Provider):
    """Offline renders: guofeng key frames (PNG) and pan/zoom animatics (H.264 MP4).

    config: ``latency_s`` (artificial delay for demos and benchmarks, spread over the steps).
    request.params: ``latency_s`` (overrides config), ``palette`` (one of PALETTES), and for
    video ``motion`` (one of MOTIONS; default picked by the seed), ``burn_in`` (frame counter
    and timecode, default on), ``mist`` (drifting mist overlay, default on).
    """

    name = "local"
    label = "Local (offline)"
    kinds = frozenset({"image", "video"})
    supports_cancel = True
    secret_env = ()

    # validation -------------------------------------------------------------------
    def _resolve(self, request: RenderRequest) -> _Job:
        if request.kind not in self.kinds:
            raise PermanentProviderError(
                f"The local provider cannot make '{request.kind}' renders; it makes images and videos."
            )
        if isinstance(request.seed, bool) or not isinstance(request.seed, int):
            raise PermanentProviderError("The seed must be a whole number.")
        for label, value in (("width", request.width), ("height", request.height)):
            if isinstance(value, bool) or not isinstance(value, int) or not MIN_SIDE <= value <= MAX_SIDE:
                raise PermanentProviderError(
                    f"The {label} must be a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}, not {value!r}."
                )
        params = request.params or {}
        latency = params.get("latency_s", self.config.get("latency_s", 0))
        try:
            latency = float(latency or 0)
        except (TypeError, ValueError):
            raise PermanentProviderError("latency_s must be a number of seconds.") from None
        if not (0 <= latency <= MAX_LATENCY_S):
            raise PermanentProviderError(f"latency_s must be between 0 and {MAX_LATENCY_S:g} seconds.")
        palette = params.get("palette") or None
        if palette is not None and palette not in PALETTES:
            raise PermanentProviderError(f"Unknown palette '{palette}'; choose one of {', '.join(sorted(PALETTES))}.")
        job = _Job(request.kind, request.seed, request.width, request.height, latency, palette)
        if request.kind == "image":
            return job
        # H.264 in yuv420p needs even dimensions.
        job.width, job.height = request.width - request.width % 2, request.height - request.height % 2
        if job.width * job.height > MAX_VIDEO_PIXELS:
            raise PermanentProviderError(
                f"A {job.width}×{job.height} video is too large for the local provider; "
                f"the limit is about 4K ({MAX_VIDEO_PIXELS // 1_000_000} megapixels)."
            )
        fps = request.fps
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 1 <= fps <= MAX_FPS or fps != int(fps):
            raise PermanentProviderError(f"The frame rate must be a whole number from 1 to {MAX_FPS} fps, not {fps!r}.")
        duration = request.duration_s
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not (0 < duration <= MAX_DURATION_S):
            raise PermanentProviderError(
                f"The duration must be more than 0 and at most {MAX_DURATION_S:g} seconds, not {duration!r}."
            )
        job.fps = int(fps)
        job.frame_count = max(1, round(duration * job.fps))
        motion = params.get("motion") or _Rng("motion", request.prompt, request.seed).pick(MOTIONS)
        if motion not in MOTIONS:
            raise PermanentProviderError(f"Unknown motion '{motion}'; choose one of {', '.join(MOTIONS)}.")
        job.motion = motion
        job.burn_in = bool(params.get("burn_in", True))
        job.mist = bool(params.get("mist", True))
        if request.source_image is not None and not Path(request.source_image).is_file():
            raise PermanentProviderError("The key frame for this video is missing.")
        return job

    # interface --------------------------------------------------------------------
    def submit(self, request: RenderRequest) -> str:
        """Validate and name the job; the work itself happens in wait()."""
        self._resolve(request)
        if request.job_key:
            return f"local-{_safe_name(request.job_key)}"
        digest = hashlib.sha256(
            "\x1f".join(
                map(
                    str,
                    (
                        request.kind,
                        request.prompt,
                        request.negative_prompt,
                        request.seed,
                        request.width,
                        request.height,
                        request.duration_s,
                        request.fps,
                        sorted((request.params or {}).items()),
                        request.source_image or "",
                    ),
                )
            ).encode()
        ).hexdigest()[:16]
        return f"local-{digest}"

    def wait(
        self, ref: str, request: RenderRequest, workdir: Path, report: ProgressCallback, is_canceled: CancelCheck
    ) -> RenderResult:
        job = self._resolve(request)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        name = _safe_name(ref)
        if job.kind == "image":
            return self._image(ref, name, request, job, workdir, report, is_canceled)
        return self._video(ref, name, request, job, workdir, report, is_canceled)

    def cancel(self, ref: str) -> None:
        """Nothing runs outside wait(): the running wait() notices is_canceled() and stops."""

    # image ------------------------------------------------------------------------
    def _image(self, ref, name, request, job, workdir, report, is_canceled) -> RenderResult:
        pacer = _Pacer(report, is_canceled, job.latency_s, steps=8)
        image, plan, bar_h = render_keyframe(
            request.prompt,
            job.seed,
            job.width,
            job.height,
            negative_prompt=request.negative_prompt,
            palette=job.palette,
            step=lambda f, m: pacer.step(f * 0.9, m),
        )
        pacer.step(0.95, "Saving PNG")
        dest = workdir / f"{name}.png"
        _atomic_png(image, dest, bar_h, job.seed)
        report(1.0, "Done")
        return RenderResult(files=[OutputFile(dest, "image/png")], provider_job_id=ref, params=self._params(job, plan))

    @staticmethod
    def _params(job: _Job, plan: ScenePlan | None) -> dict:
        params = {"seed": job.seed, "width": job.width, "height": job.height, "latency_s": job.latency_s}
        if plan is not None:
            params.update(palette=plan.palette.name, style=plan.style, motifs=sorted(plan.motifs))
        if job.kind == "video":
            params.update(
                fps=job.fps,
                duration_s=round(job.frame_count / job.fps, 6),
                frame_count=job.frame_count,
                motion=job.motion,
                burn_in=job.burn_in,
                mist=job.mist,
            )
        return params

    # video ------------------------------------------------------------------------
    def _video(self, ref, name, request, job, workdir, report, is_canceled) -> RenderResult:
        batch = max(1, job.frame_count // 40)
        batches = math.ceil(job.frame_count / batch)
        pacer = _Pacer(report, is_canceled, job.latency_s, steps=batches + (8 if request.source_image is None else 1))
        plan = None
        if request.source_image is None:
            source, plan, bar_h = render_keyframe(
                request.prompt,
                job.seed,
                job.width,
                job.height,
                negative_prompt=request.negative_prompt,
                palette=job.palette,
                step=lambda f, m: pacer.step(f * 0.15, f"Key frame: {m.lower()}"),
            )
        else:
            pacer.step(0.02, "Reading the key frame")
            source, bar_h = _load_source(Path(request.source_image))
        weather = {m for m in ("snowfall", "rain") if _words(request.prompt, MOTIF_WORDS[m])}
        animatic = _Animatic(
            source,
            bar_h,
            (job.width, job.height),
            motion=job.motion,
            fps=job.fps,
            frames=job.frame_count,
            rng=_Rng("animatic", request.prompt, job.seed),
            weather=weather,
            burn_in=job.burn_in,
            mist=job.mist,
        )
        dest = workdir / f"{name}.mp4"
        partial = workdir / f".{name}.part.mp4"
        start = 0.15 if request.source_image is None else 0.03
        with tempfile.TemporaryFile() as log:
            proc = _start_encoder(job, partial, log)
            try:
                for n in range(job.frame_count):
                    if n % batch == 0:
                        message = f"Rendering frame {n + 1} of {job.frame_count}"
                        pacer.step(start + (0.97 - start) * n / job.frame_count, message)
                    proc.stdin.write(animatic.frame(n).tobytes())
                proc.stdin.close()
                pacer.step(0.98, "Finishing the MP4")
                code = proc.wait(timeout=ENCODE_TIMEOUT_S)
            except BrokenPipeError:  # ffmpeg stopped reading: its log says why
                _close_quietly(proc.stdin)
                code = proc.wait(timeout=ENCODE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _stop(proc, partial)
                raise TransientProviderError("Encoding the animatic took too long.") from None
            except BaseException:  # canceled, or a bug: never leave ffmpeg or half a file behind
                _stop(proc, partial)
                raise
            if code != 0 or not partial.is_file():
                partial.unlink(missing_ok=True)
                log.seek(0)
                tail = " ".join(log.read().decode("utf-8", "replace").strip().splitlines()[-3:])
                raise PermanentProviderError(f"Encoding the animatic failed: {tail or f'ffmpeg exited with {code}'}")
        os.replace(partial, dest)
        report(1.0, "Done")
        params = self._params(job, plan)
        params["source"] = "generated" if request.source_image is None else "source_image"
        return RenderResult(files=[OutputFile(dest, "video/mp4")], provider_job_id=ref, params=params)


#: H.264 High in yuv420p tagged BT.709, moov first, a key frame every second (cheap scrubbing):
#: what every browser plays. Raw RGB frames arrive on stdin.
ENCODER_ARGS = (
    "-hide_banner -loglevel error -y -f rawvideo -pix_fmt rgb24 -s {w}x{h} -framerate {fps} -i - "
    "-an -c:v libx264 -preset veryfast -crf 20 -g {fps} "
    "-vf scale=out_color_matrix=bt709:out_range=tv,format=yuv420p "
    "-color_range tv -colorspace bt709 -color_primaries bt709 -color_trc bt709 -movflags +faststart -f mp4"
)
ENCODE_TIMEOUT_S = 300


def _start_encoder(job: _Job, dest: Path, log) -> subprocess.Popen:
    try:
        args = [ffmpeg_exe(), *ENCODER_ARGS.format(w=job.width, h=job.height, fps=job.fps).split(), str(dest)]
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
    except (OSError, RuntimeError) as exc:  # imageio-ffmpeg raises RuntimeError when it has no binary
        raise PermanentProviderError(f"The local provider cannot run ffmpeg: {exc}") from exc


def _close_quietly(stream) -> None:
    try:
        stream.close()
    except OSError:
        pass


def _stop(proc: subprocess.Popen, partial: Path) -> None:
    _close_quietly(proc.stdin)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    partial.unlink(missing_ok=True)


def _load_source(path: Path) -> tuple[Image.Image, int]:
    """The key frame as RGB, upright, and the height of our own caption bar if it carries one."""
    try:
        with Image.open(path) as im:
            bar_h = 0
            try:
                bar_h = int(im.info.get(CAPTION_KEY, 0) or 0)
            except (TypeError, ValueError):
                bar_h = 0
            im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PermanentProviderError("The key frame for this video is not an image that can be read.") from exc
    if not 0 <= bar_h < rgb.height // 3:
        bar_h = 0
    return rgb, bar_h


def _atomic_png(image: Image.Image, dest: Path, bar_h: int, seed: int) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "Shot Studio local provider")
    info.add_text("shotstudio:seed", str(seed))
    if bar_h:
        info.add_text(CAPTION_KEY, str(bar_h))
    partial = dest.with_name(f".{dest.stem}.part.png")
    try:
        image.save(partial, "PNG", pnginfo=info)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
