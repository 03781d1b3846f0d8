"""What the benchmarks share: a throwaway Django environment, statistics, tables.

Every benchmark runs against its own temporary STUDIO_VAR_DIR (SQLite database, media,
secret key), so it never touches var/ or a database someone is using. With DATABASE_URL
set, the board benchmark creates (and drops) a uniquely named database next to it.
"""
from __future__ import annotations

import json
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

RUN_ID = f"bench{os.getpid()}{uuid.uuid4().hex[:6]}"


def throwaway_environment(name: str) -> Path:
    """A fresh temp folder as STUDIO_VAR_DIR and MEDIA_ROOT; call before Django is imported."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"studio-{name}-"))
    os.environ["STUDIO_VAR_DIR"] = str(var_dir)
    os.environ["MEDIA_ROOT"] = str(var_dir / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["LOCAL_PROVIDER_LATENCY_S"] = "0"
    return var_dir


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def setup_django() -> None:
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) — with few samples it reports a real sample."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": statistics.median(values) if values else math.nan,
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def timed(fn, repeat: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``repeat`` calls of ``fn`` after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    if title:
        lines.append(title)
    for index, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def write_json(path: str | None, payload: dict) -> None:
    """Machine-readable results for run_all.py (and for anyone tracking figures over time)."""
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str))


def machine() -> str:
    """Cores and load when the benchmark starts: figures from a busy machine read differently."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = math.nan
    return f"{os.cpu_count()} cores, load average {load:.1f} at start"


def say(*parts) -> None:
    print(*parts, flush=True)
