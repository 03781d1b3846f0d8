"""The offline provider: real PNGs and MP4s, deterministic by seed, with progress and cancel."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from renders import media
from renders.providers import fonts
from renders.providers.base import PermanentProviderError, RenderCanceled, RenderRequest
from renders.providers.local import CAPTION_KEY, LocalProvider, caption_height

POEM = "孤舟蓑笠翁，独钓寒江雪"


class Recorder:
    """Collects progress reports; cancels once it has seen ``cancel_after`` of them."""

    def __init__(self, cancel_after: int | None = None):
        self.reports: list[tuple[float, str]] = []
        self.cancel_after = cancel_after
        self.polls = 0

    def report(self, fraction: float, message: str) -> None:
        self.reports.append((fraction, message))

    def is_canceled(self) -> bool:
        self.polls += 1
        return self.cancel_after is not None and len(self.reports) >= self.cancel_after


def render(
    request: RenderRequest, workdir: Path, provider: LocalProvider | None = None, recorder: Recorder | None = None
):
    provider = provider or LocalProvider()
    recorder = recorder or Recorder()
    ref = provider.submit(request)
    result = provider.wait(ref, request, workdir, recorder.report, recorder.is_canceled)
    return result, recorder


def image_request(prompt: str = POEM, seed: int = 7, width: int = 160, height: int = 90, **kw) -> RenderRequest:
    return RenderRequest(kind="image", prompt=prompt, seed=seed, width=width, height=height, **kw)


def video_request(prompt: str = POEM, seed: int = 7, width: int = 160, height: int = 90, **kw) -> RenderRequest:
    kw.setdefault("duration_s", 1.0)
    kw.setdefault("fps", 24)
    return RenderRequest(kind="video", prompt=prompt, seed=seed, width=width, height=height, **kw)


def mean_difference(a: Path, b: Path) -> float:
    with Image.open(a) as ia, Image.open(b) as ib:
        return sum(ImageStat.Stat(ImageChops.difference(ia.convert("RGB"), ib.convert("RGB"))).mean) / 3


def assert_monotonic_to_one(reports: list[tuple[float, str]]) -> None:
    fractions = [f for f, _ in reports]
    assert len(fractions) >= 3
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions), fractions
    assert fractions[-1] == 1.0
    assert all(message for _, message in reports)


# --- images ---------------------------------------------------------------------------


def test_image_is_a_real_png_of_the_requested_size(tmp_path):
    result, recorder = render(image_request(width=160, height=90), tmp_path)

    [out] = result.files
    assert out.content_type == "image/png"
    assert out.path.parent == tmp_path and out.path.suffix == ".png"
    with Image.open(out.path) as im:
        assert (im.format, im.size, im.mode) == ("PNG", (160, 90), "RGB")
        assert int(im.info[CAPTION_KEY]) == caption_height(90)
    assert result.provider_job_id.startswith("local-")
    assert result.params["seed"] == 7 and (result.params["width"], result.params["height"]) == (160, 90)
    assert result.params["palette"] == "snow"  # 雪 / 寒 chose it
    assert {"boat", "water"} <= set(result.params["motifs"])  # 舟 / 江
    assert_monotonic_to_one(recorder.reports)
    # nothing but the result is left in the work folder
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.path.name]


def test_same_prompt_seed_and_size_give_identical_bytes(tmp_path):
    first, _ = render(image_request(), tmp_path / "a")
    second, _ = render(image_request(), tmp_path / "b")
    digest = lambda r: hashlib.sha256(r.files[0].path.read_bytes()).hexdigest()  # noqa: E731
    assert digest(first) == digest(second)


def test_other_seed_or_prompt_gives_a_visibly_different_image(tmp_path):
    base, _ = render(image_request(seed=1), tmp_path / "base")
    other_seed, _ = render(image_request(seed=2), tmp_path / "seed")
    other_prompt, _ = render(image_request(prompt="床前明月光，疑是地上霜", seed=1), tmp_path / "prompt")

    assert mean_difference(base.files[0].path, other_seed.files[0].path) > 4
    assert mean_difference(base.files[0].path, other_prompt.files[0].path) > 15  # snow day vs moonlit night


def test_chinese_prompt_is_written_in_the_caption(tmp_path):
    if fonts.find_cjk_font() is None:
        pytest.skip("no CJK font installed")
    font = fonts.load_font(14)
    assert fonts.drawable_text(font, POEM) == POEM

    result, _ = render(image_request(width=320, height=180), tmp_path)
    assert text_pixels_in_caption(result.files[0].path) > 40


def text_pixels_in_caption(path: Path) -> int:
    """Pixels that differ from the caption bar's background in its left half (where the prompt goes)."""
    with Image.open(path) as im:
        bar_h = int(im.info[CAPTION_KEY])
        bar = im.convert("L").crop((0, im.height - bar_h + 2, im.width // 2, im.height))
    histogram = bar.histogram()
    background = max(range(256), key=histogram.__getitem__)
    return sum(count for value, count in enumerate(histogram) if abs(value - background) > 40)


def test_without_a_cjk_font_chinese_still_renders_and_no_tofu_is_drawn(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    fonts.load_font.cache_clear()
    try:
        result, _ = render(image_request(width=320, height=180), tmp_path)
        with Image.open(result.files[0].path) as im:
            assert im.size == (320, 180)
        # every character of the prompt is Chinese: a Latin-only font draws none of them (no boxes)
        assert text_pixels_in_caption(result.files[0].path) == 0
        latin = fonts.load_font(14)
        assert fonts.drawable_text(latin, "雪 snow 2024") == "snow 2024"
    finally:
        fonts.load_font.cache_clear()


def test_negative_prompt_removes_a_motif(tmp_path):
    with_boat, _ = render(image_request(), tmp_path / "a")
    without, _ = render(image_request(negative_prompt="boat, 船"), tmp_path / "b")
    assert "boat" in with_boat.params["motifs"]
    assert "boat" not in without.params["motifs"]


# --- video ----------------------------------------------------------------------------


def test_video_is_h264_mp4_with_the_requested_timing(tmp_path):
    result, recorder = render(video_request(), tmp_path)

    [out] = result.files
    assert out.content_type == "video/mp4" and out.path.suffix == ".mp4"
    info = media.probe(out.path)
    assert (info.kind, info.codec, info.pixel_format) == ("video", "h264", "yuv420p")
    assert "mp4" in info.container
    assert (info.width, info.height) == (160, 90)
    assert info.fps == 24
    assert info.frame_count == 24
    assert info.duration_s == pytest.approx(1.0, abs=1 / 24)
    assert info.has_audio is False
    data = out.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "moov must come first (+faststart) so browsers can stream it"

    assert result.params["fps"] == 24 and result.params["frame_count"] == 24
    assert result.params["duration_s"] == 1.0 and result.params["motion"] in (
        "push_in",
        "pull_out",
        "pan_left",
        "pan_right",
        "tilt_up",
        "tilt_down",
    )
    assert result.params["source"] == "generated"
    assert_monotonic_to_one(recorder.reports)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.path.name]


def test_odd_sizes_are_made_even_and_fps_duration_honoured(tmp_path):
    result, _ = render(
        video_request(width=161, height=91, fps=12, duration_s=1.5, params={"motion": "push_in"}), tmp_path
    )
    info = media.probe(result.files[0].path)
    assert (info.width, info.height) == (160, 90)
    assert (result.params["width"], result.params["height"]) == (160, 90)
    assert info.fps == 12 and info.frame_count == 18
    assert info.duration_s == pytest.approx(1.5, abs=1 / 12)
    assert result.params["motion"] == "push_in"


def test_video_from_a_key_frame_moves_the_picture_and_keeps_the_caption_still(tmp_path):
    key, _ = render(image_request(width=320, height=180), tmp_path / "key")
    request = video_request(
        width=320, height=180, source_image=key.files[0].path, params={"motion": "pan_left", "burn_in": False}
    )
    result, _ = render(request, tmp_path / "video")
    assert result.params["source"] == "source_image"

    first, last = tmp_path / "first.png", tmp_path / "last.png"
    media.extract_poster(result.files[0].path, first, at_s=0)
    media.extract_poster(result.files[0].path, last, at_s=0.99)
    bar_h = caption_height(180)
    with Image.open(first) as a, Image.open(last) as b:
        scene = (0, 0, 320, 180 - bar_h - 2)
        bar = (0, 180 - bar_h + 2, 320, 180)
        moved = sum(ImageStat.Stat(ImageChops.difference(a.crop(scene), b.crop(scene))).mean) / 3
        still = sum(ImageStat.Stat(ImageChops.difference(a.crop(bar), b.crop(bar))).mean) / 3
    assert moved > 3 and still < 2, (moved, still)


def test_cancel_raises_and_leaves_no_output(tmp_path):
    recorder = Recorder(cancel_after=12)
    with pytest.raises(RenderCanceled):
        render(video_request(), tmp_path, recorder=recorder)
    assert list(tmp_path.iterdir()) == []

    recorder = Recorder(cancel_after=2)
    with pytest.raises(RenderCanceled):
        render(image_request(), tmp_path, recorder=recorder)
    assert list(tmp_path.iterdir()) == []


def test_latency_is_spread_over_the_progress_steps(tmp_path):
    provider = LocalProvider(config={"latency_s": 0.4})
    started = time.monotonic()
    stamps: list[float] = []
    recorder = Recorder()
    recorder.report = lambda f, m: (stamps.append(time.monotonic() - started), recorder.reports.append((f, m)))  # type: ignore[method-assign]
    render(image_request(width=48, height=32), tmp_path, provider, recorder)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.4
    assert stamps[0] < 0.25, "progress should move while the latency passes, not only at the end"
    assert_monotonic_to_one(recorder.reports)

    # a request can ask for its own latency, and a canceled job stops sleeping promptly
    slow = image_request(width=48, height=32, params={"latency_s": 30})
    recorder = Recorder()
    started = time.monotonic()
    recorder.is_canceled = lambda: time.monotonic() - started > 0.2  # type: ignore[method-assign]
    with pytest.raises(RenderCanceled):
        render(slow, tmp_path / "slow", provider, recorder)
    assert time.monotonic() - started < 1.0


# --- validation and references -----------------------------------------------------


@pytest.mark.parametrize(
    "request_kwargs, words",
    [
        ({"kind": "audio"}, "cannot make 'audio'"),
        ({"width": 5000}, "width"),
        ({"height": 8}, "height"),
        ({"kind": "video", "fps": 0}, "frame rate"),
        ({"kind": "video", "duration_s": 0}, "duration"),
        ({"kind": "video", "duration_s": 3600}, "duration"),
        ({"kind": "video", "params": {"motion": "barrel_roll"}}, "motion"),
        ({"kind": "video", "source_image": Path("/nonexistent/key.png")}, "key frame"),
        ({"params": {"latency_s": -1}}, "latency_s"),
        ({"params": {"palette": "neon"}}, "palette"),
    ],
)
def test_bad_requests_are_permanent_errors_with_readable_messages(request_kwargs, words):
    fields = {"kind": "image", "prompt": POEM, "seed": 1, "width": 160, "height": 90, **request_kwargs}
    with pytest.raises(PermanentProviderError) as excinfo:
        LocalProvider().submit(RenderRequest(**fields))
    assert words in excinfo.value.message
    assert not excinfo.value.transient


def test_unreadable_key_frame_is_a_permanent_error(tmp_path):
    bogus = tmp_path / "key.png"
    bogus.write_text("not an image")
    request = video_request(source_image=bogus)
    with pytest.raises(PermanentProviderError, match="not an image"):
        render(request, tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_submit_reference_is_deterministic():
    provider = LocalProvider()
    assert provider.submit(image_request(job_key="job-42")) == "local-job-42"
    assert provider.submit(image_request(job_key="a/b c")) == "local-a-b-c"
    assert provider.submit(image_request()) == provider.submit(image_request())
    assert provider.submit(image_request(seed=1)) != provider.submit(image_request(seed=2))


def test_provider_metadata():
    assert LocalProvider.name == "local"
    assert LocalProvider.label == "Local (offline)"
    assert LocalProvider.kinds == frozenset({"image", "video"})
    assert LocalProvider.supports_cancel is True
    assert LocalProvider.secret_env == ()


def test_encoder_failure_is_a_readable_error_and_leaves_nothing(tmp_path, monkeypatch):
    from renders.providers import local

    monkeypatch.setattr(local, "ENCODER_ARGS", local.ENCODER_ARGS.replace("libx264", "no_such_encoder"))
    with pytest.raises(PermanentProviderError, match="Encoding the animatic failed"):
        render(video_request(), tmp_path)
    assert list(tmp_path.iterdir()) == []
