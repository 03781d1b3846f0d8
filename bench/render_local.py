"""How long the offline ``local`` provider takes, and how much memory, for a key frame and a clip.

Cases, each in a fresh process so its peak RSS is its own:

- ``image``            LocalProvider text-to-image, 1280×720 PNG;
- ``video``            LocalProvider image-to-video, 5 s at 24 fps (120 frames) at 1280×720,
                       from a key frame the provider painted first (not timed), H.264 MP4;
- ``baseline-image``   the floor for a PNG of that size: a flat 1280×720 image saved by Pillow;
- ``baseline-video``   the floor for the clip: the same ffmpeg binary (imageio-ffmpeg) with the
                       provider's own encoder arguments, fed the same number of blank raw frames
                       through the same pipe.

The ratio provider/baseline is what painting costs on top of writing the file, and what
synthesising animatic frames in Python costs on top of encoding them. Peak RSS is reported
for the Python process and, separately, for its largest child process (ffmpeg for the clips;
for the key frame it is ``fc-list``, which the font lookup runs once per process).

    .venv/bin/python bench/render_local.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BASE_DIR,
    fmt,
    machine,
    peak_rss_mb,
    ratio,
    remove_tree,
    say,
    setup_django,
    table,
    throwaway_environment,
    write_json,
)

WIDTH, HEIGHT, SECONDS, FPS = 1280, 720, 5, 24
FRAMES = SECONDS * FPS
PROMPT = "月夜 寒江 孤舟 远山 雪 — a lone boat on a cold river under the moon, distant snowy mountains"
#: Used only if renders.providers.local stops exposing ENCODER_ARGS (same meaning).
FALLBACK_ENCODER_ARGS = (
    "-hide_banner -loglevel error -y -f rawvideo -pix_fmt rgb24 -s {w}x{h} -framerate {fps} -i - "
    "-an -c:v libx264 -preset veryfast -crf 20 -g {fps} -pix_fmt yuv420p -movflags +faststart -f mp4"
)


# --- one case, in its own process ----------------------------------------------------------


def run_case(case: str, repeat: int) -> dict:
    import resource

    var_dir = throwaway_environment("render")
    setup_django()
    work = Path(tempfile.mkdtemp(prefix="render-bench-", dir=var_dir))
    try:
        times, extra = [], {}
        for index in range(repeat):
            out = work / str(index)
            out.mkdir()
            seconds, extra = CASES[case](out)
            times.append(seconds)
        return {
            "case": case,
            "seconds": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "repeat": repeat,
            "frames": FRAMES if "video" in case else 1,
            "peak_rss_mb": peak_rss_mb(resource.RUSAGE_SELF),
            "child_peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
            **extra,
        }
    finally:
        remove_tree(var_dir)


def _provider():
    from renders.providers.local import LocalProvider

    return LocalProvider({"latency_s": 0})


def _request(kind: str, **kw):
    from renders.providers.base import RenderRequest

    return RenderRequest(kind=kind, prompt=PROMPT, seed=7, width=WIDTH, height=HEIGHT, duration_s=SECONDS, fps=FPS,
                         params={"latency_s": 0}, **kw)


def _render(provider, request, out: Path):
    ref = provider.submit(request)
    return provider.wait(ref, request, out, lambda progress, message: None, lambda: False)


def case_image(out: Path):
    provider = _provider()
    start = time.perf_counter()
    result = _render(provider, _request("image"), out)
    seconds = time.perf_counter() - start
    return seconds, {"bytes": result.files[0].path.stat().st_size}


def case_video(out: Path):
    provider = _provider()
    keyframe = _render(provider, _request("image"), out / "key").files[0].path
    start = time.perf_counter()
    result = _render(provider, _request("video", source_image=keyframe), out)
    seconds = time.perf_counter() - start
    return seconds, {"bytes": result.files[0].path.stat().st_size}


def case_baseline_image(out: Path):
    from PIL import Image

    start = time.perf_counter()
    Image.new("RGB", (WIDTH, HEIGHT), (24, 28, 36)).save(out / "flat.png", "PNG")
    seconds = time.perf_counter() - start
    return seconds, {"bytes": (out / "flat.png").stat().st_size}


def encoder_args() -> tuple[str, str]:
    try:
        from renders.providers import local

        return local.ENCODER_ARGS, "renders.providers.local.ENCODER_ARGS"
    except (ImportError, AttributeError):
        return FALLBACK_ENCODER_ARGS, "bench fallback (libx264 veryfast crf 20)"


def case_baseline_video(out: Path):
    from renders.media import ffmpeg_exe

    template, source = encoder_args()
    dest = out / "blank.mp4"
    args = [ffmpeg_exe(), *template.format(w=WIDTH, h=HEIGHT, fps=FPS).split(), str(dest)]
    frame = bytes(WIDTH * HEIGHT * 3)
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(FRAMES):
        proc.stdin.write(frame)
    proc.stdin.close()
    err = proc.stderr.read()
    if proc.wait(120) != 0:
        raise RuntimeError(f"ffmpeg failed: {err.decode(errors='replace')[-500:]}")
    seconds = time.perf_counter() - start
    return seconds, {"bytes": dest.stat().st_size, "encoder_args": source}


CASES = {"image": case_image, "video": case_video, "baseline-image": case_baseline_image,
         "baseline-video": case_baseline_video}


# --- the orchestrator ------------------------------------------------------------------------


def measure(case: str, repeat: int, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", case, "--repeat", str(repeat)], cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="renders per case (median reported)")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600, help="bound on each case, seconds")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.repeat)))
        return 0

    say(f"render_local: {WIDTH}×{HEIGHT} image and {SECONDS} s × {FPS} fps video, {args.repeat} runs each, "
        f"every case in a fresh process; {machine()}")
    results = {}
    for case in ("baseline-image", "image", "baseline-video", "video"):
        results[case] = measure(case, args.repeat, args.timeout)
        say(f"  {case}: {results[case]['seconds']:.2f} s")

    rows = []
    for case, label in (("image", "local provider: key frame"), ("baseline-image", "baseline: flat PNG (Pillow)"),
                        ("video", "local provider: 5 s animatic"), ("baseline-video", "baseline: blank frames → ffmpeg")):
        r = results[case]
        rows.append([label, r["seconds"], r["min_s"], r["max_s"], r["frames"] / r["seconds"], r["peak_rss_mb"],
                     r["child_peak_rss_mb"], r["bytes"] / 1024])
    say()
    say(table(["case", "median s", "min s", "max s", "frames/s", "peak RSS MiB", "child peak RSS MiB", "output KiB"],
              rows, title=f"Local provider vs baseline ({WIDTH}×{HEIGHT}; encoder args: "
                          f"{results['baseline-video'].get('encoder_args')})"))
    image_ratio = ratio(results["image"]["seconds"], results["baseline-image"]["seconds"])
    video_ratio = ratio(results["video"]["seconds"], results["baseline-video"]["seconds"])
    per_frame_ms = (results["video"]["seconds"] - results["baseline-video"]["seconds"]) / FRAMES * 1000
    say()
    say(f"image: provider/baseline time ×{fmt(image_ratio)}; video: provider/baseline time ×{fmt(video_ratio)} "
        f"({per_frame_ms:.1f} ms per frame spent outside the encoder floor); a 5 s clip renders at "
        f"{FRAMES / results['video']['seconds']:.1f} frames/s = {SECONDS / results['video']['seconds']:.2f}× real time")
    write_json(args.json, {"benchmark": "render_local", "results": results,
                           "ratios": {"image": image_ratio, "video": video_ratio},
                           "video_extra_ms_per_frame": per_frame_ms, "problems": []})
    return 0


if __name__ == "__main__":
    sys.exit(main())
