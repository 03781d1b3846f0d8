"""Run every benchmark at small sizes and print one summary (``make bench``).

Each benchmark runs in its own process, prints its own tables, and writes its figures as
JSON; this script reads them back and prints the lines that matter. Small sizes keep the
whole run to a few minutes on 2 cores; ``--full`` uses each script's own defaults (the
sizes DESIGN.md quotes: 10/100/1000 shots, 200 sockets, 3 renders per case).

Exit status: 0 all ran and found nothing wrong, 1 a benchmark reported a PROBLEM
(a query count that grows, lost or duplicated events, reconnects...), 2 one failed to run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BASE_DIR, BENCH_DIR, fmt, ratio, say  # noqa: E402

SMALL = {
    "board_queries": ["--sizes", "10,100,1000", "--repeat", "7", "--naive-repeat", "2"],
    "event_fanout": ["--sockets", "100", "--events", "30", "--rates", "5,20", "--drain", "10"],
    "render_local": ["--repeat", "1"],
    "render_pipeline": [],  # its own defaults are already small
}
TIMEOUT_S = {"board_queries": 600, "event_fanout": 900, "render_local": 600, "render_pipeline": 600}


def run(name: str, extra: list[str], out_dir: Path) -> tuple[int, dict | None, float]:
    out = out_dir / f"{name}.json"
    say(f"\n=== {name} {' '.join(extra)}")
    start = time.perf_counter()
    try:
        code = subprocess.call([sys.executable, str(BENCH_DIR / f"{name}.py"), *extra, "--json", str(out)],
                               cwd=BASE_DIR, timeout=TIMEOUT_S[name])
    except subprocess.TimeoutExpired:
        say(f"{name} did not finish within {TIMEOUT_S[name]} s")
        code = 2
    elapsed = time.perf_counter() - start
    data = json.loads(out.read_text()) if out.exists() else None
    if data is None:
        code = 2  # it crashed before writing its figures (a traceback is above)
    return code, data, elapsed


def board_lines(d: dict) -> list[str]:
    f, hi, lo = d["figures"], d["sizes"][-1], d["sizes"][0]
    b, s, nv = f["board"], f["shots"], f["naive_vs_board_at_max"]
    return [
        f"board ({d['engine']}): {b['queries'][str(lo)]} queries at {lo} shots, {b['queries'][str(hi)]} at {hi} "
        f"({'constant' if b['constant_queries'] else 'GROWS'}); p50 {b['p50_ms'][str(lo)]:.1f} → {b['p50_ms'][str(hi)]:.1f} ms "
        f"(×{fmt(b['time_ratio_hi_lo'])}), {fmt(b['per_shot_us'])} µs per extra shot",
        f"shot list: {s['queries'][str(hi)]} queries ({'constant' if s['constant_queries'] else 'GROWS'}), "
        f"p50 {s['p50_ms'][str(hi)]:.1f} ms for a page of 50 at {hi} shots",
        f"naive board at {nv['shots']} shots: ×{fmt(nv['query_ratio'])} the queries, ×{fmt(nv['time_ratio'])} the time "
        f"(rows {nv['same_rows']})",
    ]


def fanout_lines(d: dict) -> list[str]:
    lines = []
    figures = d["figures"]
    base, studio = figures.get("baseline"), figures.get("studio")
    if studio:
        lines.append(f"{d['sockets']} sockets: studio opened {studio['connected']} in {studio['connect_s']:.1f} s; "
                     f"join-time traffic {studio.get('join_traffic_s', 0):.1f} s")
    for index, phase in enumerate(studio["phases"] if studio else []):
        rate = "burst" if not phase["rate"] else f"{phase['rate']:g} events/s"
        s_lat = phase["latency"]
        text = (f"{rate}: studio {phase['delivered']}/{phase['expected']} delivered, "
                f"p50 {s_lat['p50'] * 1000:.1f} ms, p99 {s_lat['p99'] * 1000:.1f} ms")
        if base:
            b_lat = base["phases"][index]["latency"]
            text += (f"; baseline p50 {b_lat['p50'] * 1000:.1f} ms, p99 {b_lat['p99'] * 1000:.1f} ms "
                     f"(×{fmt(ratio(s_lat['p50'], b_lat['p50']))} / ×{fmt(ratio(s_lat['p99'], b_lat['p99']))})")
        lines.append(text)
    return lines


def render_lines(d: dict) -> list[str]:
    r = d["results"]
    return [
        f"key frame 1280×720: {r['image']['seconds']:.2f} s, peak RSS {r['image']['peak_rss_mb']:.0f} MiB "
        f"(×{fmt(d['ratios']['image'])} a flat PNG)",
        f"5 s / 24 fps animatic: {r['video']['seconds']:.2f} s = {r['video']['frames'] / r['video']['seconds']:.1f} frames/s, "
        f"peak RSS {r['video']['peak_rss_mb']:.0f} MiB + ffmpeg {r['video']['child_peak_rss_mb']:.0f} MiB "
        f"(×{fmt(d['ratios']['video'])} encoding blank frames)",
    ]


def pipeline_lines(d: dict) -> list[str]:
    import render_pipeline

    return render_pipeline.summary_lines(d)


SUMMARISE = {"board_queries": board_lines, "event_fanout": fanout_lines, "render_local": render_lines,
             "render_pipeline": pipeline_lines}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="each benchmark's own default sizes (slower)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SMALL)}")
    args = parser.parse_args(argv)
    names = [n for n in SMALL if (BENCH_DIR / f"{n}.py").exists() and (not args.only or n in args.only.split(","))]
    results = {}
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        for name in names:
            results[name] = run(name, [] if args.full else SMALL[name], Path(tmp))

    say("\n=== summary")
    worst = 0
    for name, (code, data, elapsed) in results.items():
        worst = max(worst, code)
        status = {0: "ok", 1: "PROBLEM"}.get(code, "FAILED TO RUN")
        say(f"{name} ({elapsed:.0f} s): {status}")
        if data:
            try:
                for line in SUMMARISE[name](data):
                    say(f"  {line}")
            except (ImportError, AttributeError, KeyError, TypeError, ZeroDivisionError) as exc:
                say(f"  (could not summarise: {exc!r})")
            for problem in data.get("problems", []):
                say(f"  PROBLEM: {problem}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
