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
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat, PngImagePlugin, UnidentifiedImageError

from renders.media import ffmpeg_exe, timecode
from renders.providers import fonts
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

MIN_SIDE = 16
MAX_SIDE = 4096
#: Video frames are piped uncompressed; keep them at most about 4K UHD.
MAX_VIDEO_PIXELS = 4096 * 2304
MAX_DURATION_S = 60.0
MAX_FPS = 60
MAX_LATENCY_S = 3600.0
MOTIONS = ("push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down")
#: PNG text key holding the caption bar height, so an animatic keeps our own bar still.
CAPTION_KEY = "shotstudio:caption_px"

RGB = tuple[int, int, int]


def _hex(value: str) -> RGB:
    return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@dataclass(frozen=True)
class Palette:
    name: str
    sky: tuple[str, str, str]  # zenith, middle, horizon
    far: str  # farthest ridge
    near: str  # nearest ridge / ink
    mist: str
    water: str
    orb: str  # sun or moon disc
    accent: str  # blossoms, sashes, leaves
    night: bool = False
    snowy: bool = False

    def c(self, attr: str) -> RGB:
        return _hex(getattr(self, attr))


PALETTES: dict[str, Palette] = {
    p.name: p
    for p in (
        Palette(
            "dawn", ("#b9c3c6", "#e8dcc6", "#f4e3c9"), "#9aa6ad", "#2e3a40", "#f6efe2", "#c9cfcb", "#c8553d", "#c8553d"
        ),
        Palette(
            "dusk", ("#44506e", "#c98a74", "#f1c69a"), "#8c7484", "#2a2130", "#f0d4bd", "#a6808a", "#e0603a", "#d9703f"
        ),
        Palette(
            "night",
            ("#0d1726", "#22344d", "#4a5d78"),
            "#3d506a",
            "#0a1019",
            "#93a3b8",
            "#2b3b52",
            "#f2ead0",
            "#c9a45c",
            night=True,
        ),
        Palette(
            "snow",
            ("#aeb9c1", "#dde3e5", "#f1f2ef"),
            "#a5b1b7",
            "#3b4549",
            "#ffffff",
            "#b9c4c8",
            "#f4efe4",
            "#b8322a",
            snowy=True,
        ),
        Palette(
            "spring",
            ("#d7e1da", "#f1ebdc", "#f8f1e4"),
            "#9fb7a6",
            "#33524a",
            "#fbf6ec",
            "#bfd0c8",
            "#e58c87",
            "#e07a8a",
        ),
        Palette(
            "ink", ("#d9d3c5", "#ece6d8", "#f3eee2"), "#b4b0a6", "#1c1b1a", "#f7f3ea", "#d6d1c5", "#b8322a", "#b8322a"
        ),
        Palette(
            "autumn",
            ("#cdb79a", "#efd9b6", "#f6e7cd"),
            "#b78d6a",
            "#40291f",
            "#f7ecd9",
            "#d2bb9c",
            "#c8553d",
            "#b5452f",
        ),
        Palette(
            "qinglu",
            ("#c8d3c9", "#ebe3cb", "#f3ead5"),
            "#7fa89d",
            "#1d4a55",
            "#f6f0e0",
            "#a9c4bb",
            "#c9553d",
            "#c9a24b",
        ),
    )
}

#: Words that choose a palette; the palette with most words in the prompt wins, ties go to the
#: earlier one (a moonlit snow scene is a night scene).
PALETTE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("night", ("月", "夜", "星", "宵", "moon", "night", "star")),
    ("snow", ("雪", "寒", "冰", "霜", "冬", "snow", "winter", "frost", "ice")),
    ("dusk", ("夕", "落日", "暮", "黄昏", "晚", "残阳", "sunset", "dusk", "evening")),
    ("autumn", ("秋", "枫", "枫林", "霜叶", "红叶", "落叶", "autumn", "maple", "fall")),
    ("spring", ("春", "桃", "杏", "柳", "spring", "blossom", "peach", "cherry")),
    ("dawn", ("晨", "朝", "晓", "日出", "dawn", "morning", "sunrise")),
    ("ink", ("墨", "水墨", "ink")),
    ("qinglu", ("青", "绿", "翠", "jade", "green", "emerald")),
)

MOTIF_WORDS: dict[str, tuple[str, ...]] = {
    "water": (
        "江",
        "河",
        "湖",
        "水",
        "海",
        "溪",
        "波",
        "流",
        "川",
        "潭",
        "浦",
        "渡",
        "舟",
        "船",
        "river",
        "lake",
        "sea",
        "water",
        "stream",
        "wave",
        "boat",
    ),
    "boat": ("舟", "船", "帆", "渡", "钓", "渔", "boat", "ship", "sail", "ferry", "fishing"),
    "figure": (
        "人",
        "翁",
        "客",
        "君",
        "我",
        "僧",
        "者",
        "女",
        "郎",
        "行",
        "钓",
        "man",
        "woman",
        "figure",
        "person",
        "monk",
        "traveler",
        "traveller",
        "girl",
        "boy",
        "hermit",
        "poet",
    ),
    "birds": ("鸟", "雁", "鹤", "鸦", "乌", "鹭", "啼", "飞", "bird", "crane", "geese", "goose", "crow", "egret"),
    "pine": ("松", "树", "林", "木", "pine", "tree", "forest"),
    "bamboo": ("竹", "bamboo"),
    "blossom": ("花", "桃", "梅", "杏", "樱", "blossom", "flower", "plum", "cherry", "peach"),
    "rain": ("雨", "rain", "drizzle", "storm"),
    "snowfall": ("雪", "snow"),
    "mist": ("烟", "雾", "云", "霭", "岚", "mist", "fog", "cloud", "smoke", "haze"),
    "pavilion": ("亭", "楼", "阁", "寺", "塔", "庙", "pavilion", "temple", "pagoda", "tower"),
    "sun": ("日", "阳", "sun"),
    "moon": ("月", "moon"),
}
#: How likely a motif the prompt does not mention still appears (picked by the seed).
MOTIF_CHANCE = {
    "water": 0.5,
    "boat": 0.35,
    "figure": 0.3,
    "birds": 0.45,
    "pine": 0.4,
    "bamboo": 0.12,
    "blossom": 0.15,
    "pavilion": 0.3,
}

SEAL_TEXTS = ("影室", "墨戏", "逸品", "清赏", "山人", "烟云")


def _hits(text: str, words: tuple[str, ...]) -> int:
    """How many of ``words`` occur in ``text`` (English words case-insensitively, at word starts)."""
    lowered = text.lower()
    return sum(1 for word in words if (re.search(rf"\b{re.escape(word)}", lowered) if word.isascii() else word in text))


def _words(text: str, words: tuple[str, ...]) -> bool:
    return _hits(text, words) > 0


# --- determinism ----------------------------------------------------------------------


class _Rng:
    """Seeded randomness built only on random() and randbytes(), whose output CPython keeps stable."""

    def __init__(self, *parts: object):
        digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
        self._r = random.Random(int.from_bytes(digest[:16], "big"))

    def u(self, a: float = 0.0, b: float = 1.0) -> float:
        return a + (b - a) * self._r.random()

    def i(self, a: int, b: int) -> int:
        return min(b, a + int(self._r.random() * (b - a + 1)))

    def pick(self, seq):
        return seq[min(len(seq) - 1, int(self._r.random() * len(seq)))]

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def bytes(self, n: int) -> bytes:
        return self._r.randbytes(n)


@dataclass
class ScenePlan:
    """What the seed and the prompt decided; returned in RenderResult.params."""

    palette: Palette
    style: str
    motifs: set[str]
    seed_key: tuple
    water: bool = False
    orb: str = "sun"
    sun_x: float = 0.7
    horizon: float = 0.66
    extras: dict = field(default_factory=dict)


def plan_scene(prompt: str, seed: int, negative_prompt: str = "", palette: str | None = None) -> ScenePlan:
    """Choose palette, mountain style and motifs from the prompt's words, the rest from the seed."""
    rng = _Rng("plan", prompt, seed)
    if palette:
        chosen = PALETTES[palette]
    else:
        scores = [(_hits(prompt, words), -k, name) for k, (name, words) in enumerate(PALETTE_WORDS)]
        best = max(scores)
        chosen = PALETTES[best[2]] if best[0] else PALETTES[rng.pick(sorted(PALETTES))]
    motifs = set()
    for motif, words in MOTIF_WORDS.items():
        mentioned = _words(prompt, words)
        refused = negative_prompt and _words(negative_prompt, words)
        if refused:
            continue
        if mentioned or rng.chance(MOTIF_CHANCE.get(motif, 0.0)):
            motifs.add(motif)
    if "boat" in motifs:
        motifs.add("water")
    if chosen.snowy and not (negative_prompt and _words(negative_prompt, MOTIF_WORDS["snowfall"])):
        if rng.chance(0.7):
            motifs.add("snowfall")
    if "rain" in motifs:
        motifs.discard("snowfall")
    orb = "moon" if (chosen.night or "moon" in motifs) else "sun"
    style = rng.pick(("karst", "karst", "alpine", "rolling"))
    return ScenePlan(
        palette=chosen,
        style=style,
        motifs=motifs,
        seed_key=(prompt, seed),
        water="water" in motifs,
        orb=orb,
        sun_x=rng.pick((rng.u(0.12, 0.34), rng.u(0.66, 0.88))),
        horizon=rng.u(0.6, 0.7),
    )


# --- painting helpers -----------------------------------------------------------------


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _vgradient(size: tuple[int, int], stops: list[tuple[float, tuple]], mode: str = "RGB") -> Image.Image:
    """Vertical gradient through (position 0..1, colour) stops."""
    w, h = size
    column = []
    for y in range(h):
        t = y / max(1, h - 1)
        for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
            if t <= p1 or (p1, c1) == stops[-1]:
                k = 0.0 if p1 == p0 else min(1.0, max(0.0, (t - p0) / (p1 - p0)))
                k = k * k * (3 - 2 * k)
                if mode == "L":
                    column.append(round(c0 + (c1 - c0) * k))
                else:
                    column.append(_mix(c0, c1, k))
                break
    strip = Image.new(mode, (1, h))
    strip.putdata(column)
    return strip.resize((w, h), Image.Resampling.NEAREST)


def _scale(mask: Image.Image, alpha: int) -> Image.Image:
    """``mask`` with every value multiplied by alpha/255."""
    return mask.point([v * alpha // 255 for v in range(256)])


def _blur(im: Image.Image, radius: float) -> Image.Image:
    """Gaussian blur; wide radii are done at reduced size (same look, a fraction of the time)."""
    if radius <= 0:
        return im
    if radius <= 6:
        return im.filter(ImageFilter.GaussianBlur(radius))
    factor = radius / 4
    small = im.resize((max(1, round(im.width / factor)), max(1, round(im.height / factor))), Image.Resampling.BILINEAR)
    return small.filter(ImageFilter.GaussianBlur(4)).resize(im.size, Image.Resampling.BICUBIC)


def _noise(rng: _Rng, size: tuple[int, int], cell: float | tuple[float, float]) -> Image.Image:
    """Smooth value noise (L): random cells of ``cell`` px (or (w, h) px: streaks) upscaled bicubically."""
    cx, cy = cell if isinstance(cell, tuple) else (cell, cell)
    cw, ch = max(2, math.ceil(size[0] / cx) + 1), max(2, math.ceil(size[1] / cy) + 1)
    small = Image.frombytes("L", (cw, ch), rng.bytes(cw * ch))
    return small.resize(size, Image.Resampling.BICUBIC)


def _sprite(size: tuple[int, int], draw_fn, scale: int = 4) -> Image.Image:
    """Draw ``draw_fn(draw, unit)`` on a supersampled RGBA canvas, return it antialiased at ``size``.

    ``unit`` is 1/100 of the longer side, so motifs are drawn in a 0..100 box.
    """
    w, h = max(1, size[0]), max(1, size[1])
    big = Image.new("RGBA", (w * scale, h * scale), (0, 0, 0, 0))
    draw_fn(ImageDraw.Draw(big), max(w, h) * scale / 100.0)
    return big.resize((w, h), Image.Resampling.LANCZOS)


def _ridge(rng: _Rng, n: int, style: str) -> list[float]:
    """Heights 0..1 at n points across the width: a few peaks plus fractal roughness."""
    size = 1
    while size < n - 1:
        size *= 2
    rough = [0.0] * (size + 1)
    rough[0], rough[size] = rng.u(-1, 1), rng.u(-1, 1)
    step, amp = size, 1.0
    while step > 1:
        half = step // 2
        for i in range(half, size, step):
            rough[i] = (rough[i - half] + rough[i + half]) / 2 + rng.u(-amp, amp)
        step, amp = half, amp * (0.62 if style == "alpine" else 0.5)
    peaks = []
    count = {"karst": rng.i(4, 7), "alpine": rng.i(2, 4), "rolling": rng.i(2, 4)}[style]
    for _ in range(count):
        width = {"karst": rng.u(0.05, 0.11), "alpine": rng.u(0.14, 0.3), "rolling": rng.u(0.22, 0.45)}[style]
        peaks.append((rng.u(-0.05, 1.05), width, rng.u(0.45, 1.0)))
    heights = []
    for k in range(n):
        x = k / (n - 1)
        best = 0.0
        for cx, width, height in peaks:
            d = abs(x - cx) / width
            if style == "karst":
                v = height * max(0.0, 1 - d**2.4) ** 0.55 if d < 1 else 0.0
            elif style == "alpine":
                v = height * max(0.0, 1 - d) ** 1.15
            else:
                v = height * math.cos(min(d, 1.0) * math.pi / 2) ** 2
            best = max(best, v)
        r = rough[round(x * size)]
        heights.append(max(0.0, best + 0.06 * r + 0.08))
    top = max(heights) or 1.0
    return [v / top for v in heights]


# --- motif sprites --------------------------------------------------------------------


def _draw_boat(draw: ImageDraw.ImageDraw, u: float, ink: RGB, snowy: bool, accent: RGB) -> None:
    P = lambda pts: [(x * u, y * u) for x, y in pts]  # noqa: E731
    ink_a = (*ink, 255)
    # rod and line first, so the figure sits over them
    draw.line(P([(40, 31), (10, 6)]), fill=(*ink, 230), width=max(1, round(0.7 * u)))
    draw.line(P([(10, 6), (8, 46)]), fill=(*ink, 110), width=max(1, round(0.25 * u)))
    hull = [
        (2, 33),
        (9, 38),
        (30, 40.5),
        (50, 41),
        (70, 40.5),
        (90, 38),
        (98, 33.5),
        (93, 41),
        (80, 45.5),
        (50, 47),
        (20, 45.5),
        (7, 41),
    ]
    draw.polygon(P(hull), fill=ink_a)
    draw.chord(P([(50, 23), (82, 53)]), 180, 360, fill=(*_mix(ink, (120, 96, 70), 0.35), 255))
    for k in range(3):
        draw.arc(
            P([(53 + 3 * k, 26 + 3 * k), (79 - 3 * k, 52 - 3 * k)]),
            195,
            345,
            fill=(*_mix(ink, (200, 180, 150), 0.35), 200),
            width=max(1, round(0.35 * u)),
        )
    # the old man in a straw cape (蓑) and a wide hat (笠)
    draw.polygon(P([(27, 40.5), (30.5, 28), (37.5, 28), (42, 40.5), (38, 39), (34, 41), (30, 39)]), fill=ink_a)
    draw.ellipse(P([(31.6, 22.5), (36.4, 27.5)]), fill=ink_a)
    draw.polygon(P([(24.5, 26.2), (34, 18.5), (43.5, 26.2), (34, 25.2)]), fill=(*_mix(ink, (150, 120, 80), 0.3), 255))
    if snowy:
        draw.arc(P([(52, 24), (80, 52)]), 200, 340, fill=(255, 255, 255, 235), width=max(1, round(1.3 * u)))
        draw.line(P([(27, 24.6), (34, 19.2), (41, 24.6)]), fill=(255, 255, 255, 235), width=max(1, round(0.9 * u)))


def _draw_scholar(draw: ImageDraw.ImageDraw, u: float, ink: RGB, accent: RGB) -> None:
    P = lambda pts: [(x * u, y * u) for x, y in pts]  # noqa: E731
    ink_a = (*ink, 255)
    draw.line(P([(32, 34), (37, 99)]), fill=(*_mix(ink, (110, 80, 50), 0.4), 255), width=max(1, round(1.2 * u)))
    draw.polygon(P([(14, 30), (26, 30), (30, 80), (34, 97), (6, 97), (10, 80)]), fill=ink_a)
    draw.polygon(P([(13, 32), (7, 52), (11, 58), (17, 40)]), fill=ink_a)  # sleeve
    draw.polygon(P([(27, 32), (33, 50), (30, 56), (23, 40)]), fill=ink_a)
    draw.line(P([(11.5, 48), (28.5, 48)]), fill=(*accent, 255), width=max(1, round(1.4 * u)))
    draw.ellipse(P([(15, 18), (25, 29)]), fill=ink_a)
    draw.polygon(P([(5, 22), (20, 10), (35, 22), (20, 20)]), fill=(*_mix(ink, (150, 120, 80), 0.3), 255))


def _draw_pagoda(draw: ImageDraw.ImageDraw, u: float, ink: RGB, accent: RGB) -> None:
    P = lambda pts: [(x * u, y * u) for x, y in pts]  # noqa: E731
    ink_a = (*ink, 255)
    tiers = 3
    for t in range(tiers):
        half = 30 - t * 7
        base = 96 - t * 27
        draw.rectangle(
            P([(50 - half * 0.55, base - 14), (50 + half * 0.55, base)]), fill=(*_mix(ink, accent, 0.25), 255)
        )
        draw.polygon(
            P(
                [
                    (50 - half - 6, base - 17),
                    (50 - half * 0.55, base - 24),
                    (50 + half * 0.55, base - 24),
                    (50 + half + 6, base - 17),
                    (50 + half, base - 15.5),
                    (50 - half, base - 15.5),
                ]
            ),
            fill=ink_a,
        )
    draw.line(P([(50, 96 - (tiers - 1) * 27 - 24), (50, 3)]), fill=ink_a, width=max(1, round(1.5 * u)))


# --- the painter ----------------------------------------------------------------------


class _Painter:
    def __init__(self, plan: ScenePlan, size: tuple[int, int]):
        self.plan = plan
        self.pal = plan.palette
        self.w, self.h = size
        self.s = min(size)
        self.img = Image.new("RGB", size)
        self.ridges: list[list[tuple[float, float]]] = []
        self.ground_side = "left"

    def rng(self, name: str) -> _Rng:
        return _Rng(name, *self.plan.seed_key)

    def fill(self, color: RGB, mask: Image.Image) -> None:
        self.img.paste(color, (0, 0, self.w, self.h), mask)

    # sky, sun or moon ---------------------------------------------------------------
    def sky(self) -> None:
        top, mid, hor = (_hex(c) for c in self.pal.sky)
        self.img = _vgradient((self.w, self.h), [(0.0, top), (0.45, mid), (self.plan.horizon, hor), (1.0, hor)])
        rng = self.rng("clouds")
        # long soft cloud bands, the way a wash leaves paler streaks
        bands = Image.new("L", (self.w, self.h), 0)
        draw = ImageDraw.Draw(bands)
        for _ in range(rng.i(2, 4)):
            cy = rng.u(0.08, 0.45) * self.h
            cx = rng.u(0.0, 1.0) * self.w
            bw, bh = rng.u(0.3, 0.7) * self.w, rng.u(0.015, 0.04) * self.h
            draw.ellipse((cx - bw, cy - bh, cx + bw, cy + bh), fill=rng.i(50, 110))
        self.fill(_hex(self.pal.mist), _blur(bands, self.s * 0.03))

    def orb(self) -> None:
        rng = self.rng("orb")
        cx, cy = self.plan.sun_x * self.w, rng.u(0.13, 0.3) * self.h
        r = rng.u(0.045, 0.075) * self.s
        self.plan.extras.update(orb_x=round(self.plan.sun_x, 3))
        color = self.pal.c("orb")
        glow = Image.new("L", (self.w, self.h), 0)
        ImageDraw.Draw(glow).ellipse(
            (cx - r * 2.6, cy - r * 2.6, cx + r * 2.6, cy + r * 2.6), fill=150 if self.plan.orb == "moon" else 110
        )
        glow_color = (
            _mix(color, (255, 255, 255), 0.4) if self.plan.orb == "moon" else _mix(color, _hex(self.pal.sky[2]), 0.55)
        )
        self.fill(glow_color, _blur(glow, r * 1.6))
        disc = _sprite(
            (round(r * 2) + 2, round(r * 2) + 2), lambda d, u: d.ellipse((u, u, 99 * u, 99 * u), fill=(*color, 255))
        )
        alpha = disc.getchannel("A").point(lambda v: v * (235 if self.plan.orb == "moon" else 215) // 255)
        self.img.paste(disc.convert("RGB"), (round(cx - r) - 1, round(cy - r) - 1), alpha)
        if self.plan.orb == "moon":
            shade = _noise(rng, disc.size, max(2.0, r / 3)).point(lambda v: 255 if v > 170 else 0)
            shade = ImageChops.multiply(_blur(shade, r * 0.12), alpha).point(lambda v: v * 60 // 255)
            self.img.paste(_mix(color, (150, 150, 160), 0.6), (round(cx - r) - 1, round(cy - r) - 1), shade)
        # a cloud streak across the orb
        streak = Image.new("L", (self.w, self.h), 0)
        ImageDraw.Draw(streak).ellipse((cx - r * 3.2, cy + r * 0.15, cx + r * 2.4, cy + r * 0.55), fill=120)
        self.fill(_hex(self.pal.mist) if not self.pal.night else _hex(self.pal.sky[1]), _blur(streak, r * 0.25))

    # mountains --------------------------------------------------------------------
    def mountains(self) -> None:
        rng = self.rng("mountains")
        layers = rng.i(3, 5)
        horizon = self.plan.horizon * self.h
        far, near = self.pal.c("far"), self.pal.c("near")
        haze = _hex(self.pal.sky[2])
        n = 129
        for i in range(layers):
            d = i / (layers - 1)
            lr = self.rng(f"ridge{i}")
            heights = _ridge(lr, n, self.plan.style if i < layers - 1 else "rolling")
            top = (0.2 + 0.2 * d + lr.u(-0.04, 0.04)) * self.h
            base = horizon - (0.02 - 0.06 * d) * self.h if self.plan.water else (0.55 + 0.3 * d) * self.h
            if self.plan.water:
                base = min(base, horizon)
            amp = max(4.0, base - top) * (1.0 - 0.35 * d)
            pts = [(-0.05 * self.w + k / (n - 1) * 1.1 * self.w, base - heights[k] * amp) for k in range(n)]
            self.ridges.append(pts)
            mask = Image.new("L", (self.w, self.h), 0)
            ImageDraw.Draw(mask).polygon(pts + [(1.1 * self.w, self.h + 2), (-0.1 * self.w, self.h + 2)], fill=255)
            # ink wash: dense at the crest, dissolving into mist towards the foot
            peak_top = min(y for _, y in pts)
            floor = 40 if i < layers - 1 else 150
            fade = _vgradient(
                (self.w, self.h),
                [(0.0, 255), (max(0.0, peak_top / self.h), 255), (min(1.0, base / self.h + 0.02), floor), (1.0, floor)],
                "L",
            )
            # vertical streaks, like the texture strokes (皴) of a dry brush
            streaks = _noise(lr, (self.w, self.h), (max(2.0, self.s * 0.008), max(4.0, self.s * 0.035)))
            blots = _noise(lr, (self.w, self.h), max(4.0, self.s * 0.05))
            texture = ImageChops.multiply(
                streaks.point(lambda v: 170 + v * 85 // 255), blots.point(lambda v: 185 + v * 70 // 255)
            )
            body = ImageChops.multiply(ImageChops.multiply(mask, fade), texture)
            color = _mix(_mix(far, near, d**1.3), haze, 0.35 * (1 - d))
            self.fill(color, _blur(body, self.s * 0.0025 * (1 - d)))
            # the darker (or snow-lit) crest, the first stroke an ink painter lays down
            shifted = Image.new("L", (self.w, self.h), 0)
            shifted.paste(mask, (0, max(2, round(self.s * 0.012))))
            crest = _blur(ImageChops.subtract(mask, shifted), self.s * 0.006)
            crest = ImageChops.multiply(crest, texture)
            if self.pal.snowy:  # nearer ridges catch more snow
                self.fill((252, 252, 250), _scale(crest, round(90 + 130 * d)))
            else:
                self.fill(_mix(color, near, 0.6), _scale(crest, 170))
            if d > 0.4:
                self._moss(lr, pts, color)
            if i < layers - 1:
                self._mist_band(lr, base - amp * 0.15, 0.75 if "mist" in self.plan.motifs else 0.5)

    def _moss(self, rng: _Rng, pts, color: RGB) -> None:
        """Moss dots (点苔) and tiny trees along a near crest."""
        ink = _mix(color, self.pal.c("near"), 0.55)
        draw = ImageDraw.Draw(self.img, "RGBA")
        for _ in range(rng.i(2, 4)):
            centre = rng.i(4, len(pts) - 5)
            for _ in range(rng.i(3, 7)):
                k = min(len(pts) - 1, max(0, centre + rng.i(-3, 3)))
                x, y = pts[k]
                x += rng.u(-0.5, 0.5) * self.w / len(pts)
                r = max(0.6, rng.u(0.0015, 0.0035) * self.s)
                draw.ellipse(
                    (x - r * 0.7, y - r * 1.1 + r * 0.6, x + r * 0.7, y + r * 1.1 + r * 0.6),
                    fill=(*ink, rng.i(150, 220)),
                )

    def _mist_band(self, rng: _Rng, y: float, strength: float) -> None:
        band = Image.new("L", (self.w, self.h), 0)
        draw = ImageDraw.Draw(band)
        for _ in range(rng.i(2, 4)):
            cx = rng.u(-0.1, 1.1) * self.w
            bw, bh = rng.u(0.25, 0.6) * self.w, rng.u(0.025, 0.06) * self.h
            draw.ellipse((cx - bw, y - bh, cx + bw, y + bh), fill=round(rng.u(140, 230) * strength))
        self.fill(self.pal.c("mist"), _blur(band, self.s * 0.035))

    # water ------------------------------------------------------------------------
    def water(self) -> None:
        if not self.plan.water:
            return
        rng = self.rng("water")
        hy = round(self.plan.horizon * self.h)
        if hy >= self.h - 2:
            return
        water_h = self.h - hy
        refl = self.img.crop((0, max(0, hy - water_h), self.w, hy)).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        refl = refl.resize((self.w, water_h), Image.Resampling.BILINEAR)
        refl = refl.resize((max(1, self.w // 24), water_h), Image.Resampling.BILINEAR).resize(
            (self.w, water_h), Image.Resampling.BICUBIC
        )
        base = _vgradient(
            (self.w, water_h),
            [
                (0.0, _mix(self.pal.c("water"), _hex(self.pal.sky[2]), 0.5)),
                (1.0, _mix(self.pal.c("water"), self.pal.c("near"), 0.25)),
            ],
        )
        surface = Image.blend(base, refl, 0.38)
        ripples = Image.new("RGBA", (self.w, water_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(ripples)
        light = _mix(_hex(self.pal.sky[2]), (255, 255, 255), 0.5)
        dark = _mix(self.pal.c("water"), self.pal.c("near"), 0.5)
        for _ in range(int(20 + 60 * self.w / 1280)):
            t = rng.u(0, 1) ** 1.8  # denser near the horizon, as perspective does
            y = t * water_h
            length = (0.015 + 0.06 * t) * self.w * rng.u(0.3, 1.0)
            x = rng.u(-0.05, 1.0) * self.w
            color = light if rng.chance(0.7) else dark
            draw.line(
                (x, y, x + length, y), fill=(*color, rng.i(50, 130)), width=max(1, round(self.s * 0.0015 * (1 + 2 * t)))
            )
        surface.paste(ripples, (0, 0), ripples.filter(ImageFilter.GaussianBlur(max(0.3, self.s * 0.0008))))
        # the sun's or moon's glitter path
        ox = self.plan.sun_x * self.w
        path = Image.new("L", (self.w, water_h), 0)
        pdraw = ImageDraw.Draw(path)
        for _ in range(int(20 + 50 * self.w / 1280)):
            t = rng.u(0, 1) ** 1.3
            y = t * water_h
            half = (0.01 + 0.05 * t) * self.w * rng.u(0.4, 1.2)
            pdraw.line(
                (ox - half + rng.u(-0.02, 0.02) * self.w, y, ox + half, y),
                fill=rng.i(60, 160),
                width=max(1, round(self.s * 0.002)),
            )
        surface.paste(
            self.pal.c("orb") if self.plan.orb == "moon" else _mix(self.pal.c("orb"), (255, 240, 210), 0.5),
            (0, 0),
            _blur(path, 0.6),
        )
        self.img.paste(surface, (0, hy))
        shore = Image.new("L", (self.w, self.h), 0)
        ImageDraw.Draw(shore).rectangle((0, hy - self.s * 0.01, self.w, hy + self.s * 0.012), fill=150)
        self.fill(self.pal.c("mist"), _blur(shore, self.s * 0.012))

    # foreground -------------------------------------------------------------------
    def foreground(self) -> None:
        rng = self.rng("foreground")
        motifs = self.plan.motifs
        # The foreground mass (rock, tree) stands under the sun or moon; the inscription takes
        # the empty sky on the other side, as a painter leaves room for the poem.
        self.ground_side = "right" if self.plan.sun_x > 0.5 else "left"
        needs_ground = (
            not self.plan.water or {"pine", "bamboo"} & motifs or ("figure" in motifs and "boat" not in motifs)
        )
        if needs_ground:
            self._rock(rng)
        if "pavilion" in motifs and len(self.ridges) >= 2:
            self._pavilion(rng)
        if "pine" in motifs:
            self._pine(rng)
        if "bamboo" in motifs:
            self._bamboo(rng)
        if "blossom" in motifs:
            self._blossom(rng)
        if "boat" in motifs and self.plan.water:
            self._boat(rng)
        elif "figure" in motifs:
            self._scholar(rng)
        if "birds" in motifs:
            self._birds(rng)

    def _rock(self, rng: _Rng) -> None:
        w, h, s = self.w, self.h, self.s
        left = self.ground_side == "left"
        span = rng.u(0.38, 0.55) * w if self.plan.water else rng.u(0.5, 0.8) * w
        top = h * (rng.u(0.8, 0.86) if self.plan.water else rng.u(0.74, 0.82))
        n = 33
        heights = _ridge(rng, n, "rolling")
        pts = []
        for k in range(n):
            t = k / (n - 1)
            x = (t * span) if left else (w - t * span)
            edge = 1 - t**3
            pts.append((x, h - (h - top) * (0.55 + 0.45 * heights[k]) * edge))
        poly = pts + [(pts[-1][0], h + 2), (w + 2 if not left else -2, h + 2)]
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).polygon(poly, fill=255)
        texture = _noise(rng, (w, h), max(3.0, s * 0.015)).point(lambda v: 200 + v * 55 // 255)
        ink = self.pal.c("near")
        self.fill(_mix(ink, self.pal.c("far"), 0.15), ImageChops.multiply(_blur(mask, s * 0.002), texture))
        shifted = Image.new("L", (w, h), 0)
        shifted.paste(mask, (0, max(2, round(s * 0.02))))
        crest = _blur(ImageChops.subtract(mask, shifted), s * 0.004)
        self.fill((250, 250, 248) if self.pal.snowy else ink, crest.point(lambda v: v * 220 // 255))
        self.ground = pts

    def _ground_point(self, t: float) -> tuple[float, float]:
        pts = getattr(self, "ground", None)
        if not pts:
            return (t * self.w, self.h * 0.92)
        k = min(len(pts) - 1, max(0, round(t * (len(pts) - 1))))
        return pts[k]

    def _pavilion(self, rng: _Rng) -> None:
        ridge = self.ridges[-2] if len(self.ridges) > 2 else self.ridges[0]
        lo, hi = (len(ridge) // 2, len(ridge) - 6) if self.ground_side == "left" else (5, len(ridge) // 2)
        k = min(range(lo, hi), key=lambda j: ridge[j][1])
        x, y = ridge[k]
        size = max(6, round(self.s * rng.u(0.05, 0.07)))
        sprite = _sprite(
            (size, size),
            lambda d, u: _draw_pagoda(d, u, _mix(self.pal.c("near"), self.pal.c("far"), 0.3), self.pal.c("accent")),
        )
        self.img.paste(sprite, (round(x - size / 2), round(y - sprite.height * 0.93)), sprite)

    def _pine(self, rng: _Rng) -> None:
        s = self.s
        gx, gy = self._ground_point(rng.u(0.12, 0.3))
        height = rng.u(0.45, 0.62) * self.h
        lean = rng.u(0.05, 0.18) * (1 if self.ground_side == "left" else -1)
        layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        trunk_color = (*_mix(self.pal.c("near"), (90, 60, 40), 0.25), 255)
        needle = (*_mix(self.pal.c("near"), (30, 70, 50), 0.3 if not self.pal.night else 0.1), 240)
        needle_light = (*_mix(self.pal.c("near"), (110, 140, 110) if not self.pal.night else (60, 80, 100), 0.45), 200)
        base_w = max(2.0, s * 0.018)
        pts = []
        for k in range(13):
            t = k / 12
            wobble = math.sin(t * 5 + rng.u(0, 6)) * 0.03 * height
            pts.append((gx + lean * height * t * 1.6 + wobble, gy - height * t))
        for k in range(len(pts) - 1):
            width = base_w * (1 - 0.65 * k / 12)
            draw.line((pts[k], pts[k + 1]), fill=trunk_color, width=max(1, round(width)))
            draw.ellipse(
                (
                    pts[k + 1][0] - width / 2,
                    pts[k + 1][1] - width / 2,
                    pts[k + 1][0] + width / 2,
                    pts[k + 1][1] + width / 2,
                ),
                fill=trunk_color,
            )
        clumps = []
        for k in range(5, 13):
            if rng.chance(0.3) and k != 12:
                continue
            x, y = pts[k]
            side = rng.pick((-1, 1))
            length = (0.55 - 0.35 * k / 12) * height * rng.u(0.5, 1.0)
            end = (x + side * length, y + rng.u(-0.06, 0.04) * height)
            mid = ((x + end[0]) / 2, (y + end[1]) / 2 + 0.03 * height)
            draw.line((pts[k], mid, end), fill=trunk_color, width=max(1, round(base_w * 0.35)), joint="curve")
            clumps.append(end)
            clumps.append(((x + end[0] * 2) / 3, (y + end[1] * 2) / 3))
        clumps.append(pts[-1])
        for cx, cy in clumps:
            cw, ch = rng.u(0.08, 0.13) * height, rng.u(0.03, 0.045) * height
            # a pine's foliage is drawn as flat fans of needles: a few overlapping lobes and strokes
            for _ in range(3):
                ox, oy, k = rng.u(-0.45, 0.45) * cw, rng.u(-0.3, 0.2) * ch, rng.u(0.5, 0.8)
                draw.ellipse(
                    (cx + ox - cw * k, cy + oy - ch * k, cx + ox + cw * k, cy + oy + ch * k * 0.8), fill=needle
                )
            draw.ellipse((cx - cw * 0.7, cy - ch * 0.95, cx + cw * 0.55, cy - ch * 0.2), fill=needle_light)
            for _ in range(8):
                a = rng.u(math.pi * 1.15, math.pi * 1.85)
                r = rng.u(0.5, 0.9)
                bx = cx + rng.u(-0.5, 0.5) * cw
                draw.line(
                    (bx, cy - ch * 0.3, bx + math.cos(a) * cw * 0.35 * r, cy - ch * 0.3 + math.sin(a) * ch * 1.2 * r),
                    fill=needle,
                    width=max(1, round(s * 0.0014)),
                )
            if self.pal.snowy:
                draw.ellipse((cx - cw * 0.65, cy - ch * 1.0, cx + cw * 0.5, cy - ch * 0.5), fill=(250, 250, 248, 235))
        self.img.paste(layer, (0, 0), layer.filter(ImageFilter.GaussianBlur(0.4)) if s > 200 else layer)

    def _bamboo(self, rng: _Rng) -> None:
        s = self.s
        layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        green = _mix(self.pal.c("near"), (40, 90, 60), 0.45 if not self.pal.night else 0.15)
        edge = 0.04 if self.ground_side == "left" else 0.96
        for stalk in range(rng.i(3, 5)):
            x0 = (edge + (stalk * 0.035 + rng.u(0, 0.02)) * (1 if edge < 0.5 else -1)) * self.w
            lean = rng.u(-0.04, 0.04) * self.w
            top = rng.u(0.05, 0.35) * self.h
            width = max(2, round(s * rng.u(0.008, 0.013)))
            alpha = rng.i(180, 250)
            segments = rng.i(6, 9)
            for k in range(segments):
                t0, t1 = k / segments, (k + 1) / segments
                y0, y1 = self.h - (self.h - top) * t0, self.h - (self.h - top) * t1
                xa, xb = x0 + lean * t0**2, x0 + lean * t1**2
                draw.line((xa, y0 - width * 0.3, xb, y1 + width * 0.3), fill=(*green, alpha), width=width)
                if k > 1:
                    side = rng.pick((-1, 1))
                    for _ in range(rng.i(2, 4)):
                        ang = rng.u(0.15, 0.9) * side
                        length = rng.u(0.05, 0.09) * self.h
                        lx, ly = xb + side * length * math.cos(ang), y1 + length * math.sin(abs(ang)) * 0.6
                        nx, ny = (ly - y1) / length * width * 0.7, (xb - lx) / length * width * 0.7
                        draw.polygon(
                            [
                                (xb, y1),
                                ((xb + lx) / 2 + nx, (y1 + ly) / 2 + ny),
                                (lx, ly),
                                ((xb + lx) / 2 - nx, (y1 + ly) / 2 - ny),
                            ],
                            fill=(*green, min(255, alpha + 10)),
                        )
        self.img.paste(layer, (0, 0), layer)

    def _blossom(self, rng: _Rng) -> None:
        s = self.s
        layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        from_left = self.ground_side == "left"  # the branch leans out over the foreground's side
        start = (-0.02 * self.w if from_left else 1.02 * self.w, rng.u(0.04, 0.2) * self.h)
        angle = rng.u(0.15, 0.45) if from_left else math.pi - rng.u(0.15, 0.45)
        branch = _mix(self.pal.c("near"), (80, 50, 40), 0.3)
        petals = self.pal.c("accent")
        tips: list[tuple[float, float]] = []

        def grow(x, y, ang, length, width, depth):
            ex, ey = x + math.cos(ang) * length, y + math.sin(ang) * length
            draw.line((x, y, ex, ey), fill=(*branch, 250), width=max(1, round(width)))
            tips.append((ex, ey))
            if depth == 0:
                return
            for turn in (rng.u(-0.7, -0.2), rng.u(0.15, 0.6)) if rng.chance(0.75) else (rng.u(-0.4, 0.4),):
                grow(ex, ey, ang + turn, length * rng.u(0.55, 0.8), width * 0.62, depth - 1)

        grow(*start, angle, rng.u(0.16, 0.24) * self.w, max(2.0, s * 0.014), 4)
        radius = max(1.0, s * 0.008)
        for x, y in tips + [(tips[i][0], tips[i][1]) for i in range(0, len(tips), 2)]:
            for _ in range(rng.i(1, 3)):
                bx, by = x + rng.u(-2, 2) * radius, y + rng.u(-2, 2) * radius
                r = radius * rng.u(0.7, 1.2)
                color = (*_mix(petals, (255, 250, 245), rng.u(0.0, 0.45)), 235)
                if r >= 2.5:
                    for p in range(5):
                        a = p * 2 * math.pi / 5 + rng.u(0, 1)
                        px, py = bx + math.cos(a) * r * 0.6, by + math.sin(a) * r * 0.6
                        draw.ellipse((px - r * 0.55, py - r * 0.55, px + r * 0.55, py + r * 0.55), fill=color)
                    draw.ellipse(
                        (bx - r * 0.2, by - r * 0.2, bx + r * 0.2, by + r * 0.2),
                        fill=(*_mix(petals, (120, 30, 30), 0.5), 255),
                    )
                else:
                    draw.ellipse((bx - r, by - r, bx + r, by + r), fill=color)
        self.img.paste(layer, (0, 0), layer)

    def _boat(self, rng: _Rng) -> None:
        hy = self.plan.horizon * self.h
        depth = rng.u(0.25, 0.6)
        y = hy + depth * (self.h - hy)
        length = max(10, round(self.s * (0.15 + 0.12 * depth)))
        x = (rng.u(0.5, 0.72) if self.ground_side == "left" else rng.u(0.28, 0.5)) * self.w
        size = (length, round(length * 0.6))
        ink = self.pal.c("near")
        sprite = _sprite(size, lambda d, u: _draw_boat(d, u, ink, self.pal.snowy, self.pal.c("accent")))
        top_left = (round(x - size[0] / 2), round(y - size[1] * 0.78))
        # reflection first, faint and squashed
        refl = sprite.transpose(Image.Transpose.FLIP_TOP_BOTTOM).resize(
            (size[0], max(1, size[1] // 2)), Image.Resampling.BILINEAR
        )
        refl_alpha = refl.getchannel("A").point(lambda v: v * 70 // 255)
        self.img.paste(refl.convert("RGB"), (top_left[0], round(y - size[1] * 0.78 + size[1] * 0.76)), refl_alpha)
        self.img.paste(sprite, top_left, sprite)
        draw = ImageDraw.Draw(self.img, "RGBA")
        ring = _mix(_hex(self.pal.sky[2]), (255, 255, 255), 0.4)
        for k in (1, 2):
            rx, ry = length * (0.55 + 0.25 * k), length * (0.05 + 0.03 * k)
            draw.arc(
                (x - rx, y - ry + length * 0.03, x + rx, y + ry + length * 0.03),
                10,
                170,
                fill=(*ring, 90 // k),
                width=max(1, round(self.s * 0.0015)),
            )

    def _scholar(self, rng: _Rng) -> None:
        gx, gy = self._ground_point(rng.u(0.45, 0.7))
        height = max(12, round(self.s * rng.u(0.09, 0.13)))
        size = (max(5, round(height * 0.4)), height)
        sprite = _sprite(size, lambda d, u: _draw_scholar(d, u, self.pal.c("near"), self.pal.c("accent")), scale=6)
        self.img.paste(sprite, (round(gx - size[0] / 2), round(gy - height * 0.96)), sprite)

    def _birds(self, rng: _Rng) -> None:
        draw = ImageDraw.Draw(self.img, "RGBA")
        ink = _mix(self.pal.c("near"), _hex(self.pal.sky[1]), 0.2)
        # between the inscription and the sun, so they never cross either
        ox = (rng.u(0.3, 0.5) if self.plan.sun_x > 0.5 else rng.u(0.45, 0.62)) * self.w
        oy = rng.u(0.12, 0.3) * self.h
        count = rng.i(3, 8)
        vee = rng.chance(0.5)
        for k in range(count):
            size = max(2.0, self.s * rng.u(0.008, 0.014))
            if vee:
                x, y = ox + k * size * 2.6, oy + abs(k - count // 2) * size * 1.4
            else:
                x, y = ox + rng.u(-0.12, 0.12) * self.w, oy + rng.u(-0.06, 0.06) * self.h
            lw = max(1, round(size * 0.22))
            flap = rng.u(0.2, 0.6)
            draw.line(
                (x - size, y - size * flap, x - size * 0.3, y - size * 0.05, x, y + size * 0.1),
                fill=(*ink, 230),
                width=lw,
                joint="curve",
            )
            draw.line(
                (x, y + size * 0.1, x + size * 0.35, y - size * 0.08, x + size, y - size * flap * 0.8),
                fill=(*ink, 230),
                width=lw,
                joint="curve",
            )

    # weather, paper and seal ------------------------------------------------------
    def weather(self) -> None:
        rng = self.rng("weather")
        motifs = self.plan.motifs
        if "snowfall" in motifs:
            layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
            draw = ImageDraw.Draw(layer)
            for _ in range(int(80 + 420 * self.w * self.h / (1280 * 720))):
                x, y = rng.u(0, self.w), rng.u(0, self.h)
                r = max(0.6, self.s * rng.u(0.001, 0.004) * rng.u(0.5, 1.5))
                draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.i(120, 230)))
            self.img.paste(layer, (0, 0), layer.filter(ImageFilter.GaussianBlur(0.5)))
        if "rain" in motifs:
            layer = Image.new("RGBA", (self.w, self.h), (0, 0, 0, 0))
            draw = ImageDraw.Draw(layer)
            color = _mix(_hex(self.pal.sky[0]), (255, 255, 255), 0.6)
            for _ in range(int(120 + 500 * self.w * self.h / (1280 * 720))):
                x, y = rng.u(-0.1, 1.1) * self.w, rng.u(0, self.h)
                length = self.s * rng.u(0.02, 0.05)
                draw.line(
                    (x, y, x - length * 0.25, y + length),
                    fill=(*color, rng.i(40, 90)),
                    width=max(1, round(self.s * 0.0012)),
                )
            self.img.paste(layer, (0, 0), layer)

    def paper(self) -> None:
        rng = self.rng("paper")
        grain = Image.frombytes(
            "L", (max(1, self.w // 2), max(1, self.h // 2)), rng.bytes(max(1, self.w // 2) * max(1, self.h // 2))
        )
        grain = grain.resize((self.w, self.h), Image.Resampling.BILINEAR).point(lambda v: v * 16 // 255)
        self.fill(_mix(self.pal.c("near"), (120, 100, 70), 0.5), grain)
        fibres = _noise(rng, (self.w, self.h), max(3.0, self.s * 0.15)).point(lambda v: max(0, v - 150) // 5)
        self.fill((255, 250, 238) if not self.pal.night else (40, 50, 70), fibres)
        vignette = ImageOps.invert(Image.radial_gradient("L")).resize((self.w, self.h), Image.Resampling.BILINEAR)
        vignette = ImageOps.invert(vignette).point(lambda v: max(0, v - 120) * 80 // 135)
        self.fill(_mix(self.pal.c("near"), (40, 30, 20), 0.5), vignette)

    def inscription(self, prompt: str) -> None:
        """Vertical columns of the poem, right to left, and a red seal, on the side away from the sun."""
        if self.s < 200:
            return
        rng = self.rng("seal")
        size = max(10, round(self.h * 0.042))
        font = fonts.load_font(size)
        cjk = fonts.find_cjk_font() is not None
        lines = [
            fonts.drawable_text(font, fonts.cjk_chars(part)) for part in re.split(r"[，。、；：！？,.;:!?\s]+", prompt)
        ]
        lines = [line for line in lines if line][:4] if cjk else []
        per_column = max(1, int(self.h * 0.5 / (size * 1.12)))
        lines = [line[:per_column] for line in lines]
        left_side = self.plan.sun_x > 0.5
        margin = self.s * 0.06
        column_gap = size * 1.45
        ink = (236, 228, 210) if self.pal.night else (38, 33, 28)
        draw = ImageDraw.Draw(self.img, "RGBA")
        block_w = column_gap * max(0, len(lines) - 1) + size
        x_right = (margin + block_w if left_side else self.w - margin) - size
        y0 = margin
        for c, line in enumerate(lines):
            x = x_right - c * column_gap
            y = y0
            for ch in line:
                draw.text((x, y), ch, font=font, fill=(*ink, 215))
                y += size * 1.12
        seal_chars = fonts.drawable_text(font, rng.pick(SEAL_TEXTS)) if cjk else ""
        seal_w = round(size * 1.25)
        seal_h = round(seal_w * (1.9 if len(seal_chars) == 2 else 1.0))
        if lines:
            sx = round(x_right - (len(lines) - 1) * column_gap - seal_w * 0.05)
            sy = round(y0 + len(lines[-1]) * size * 1.12 + size * 0.4)
        else:
            sx = round(margin if left_side else self.w - margin - seal_w)
            sy = round(margin)
        seal = Image.new("L", (seal_w, seal_h), 0)
        sdraw = ImageDraw.Draw(seal)
        sdraw.rounded_rectangle((0, 0, seal_w - 1, seal_h - 1), radius=max(1, seal_w // 10), fill=255)
        glyph = fonts.load_font(max(6, round(seal_w * 0.62)))
        for k, ch in enumerate(seal_chars):
            bbox = sdraw.textbbox((0, 0), ch, font=glyph)
            gx = (seal_w - (bbox[2] - bbox[0])) / 2 - bbox[0]
            cell = seal_h / max(1, len(seal_chars))
            gy = k * cell + (cell - (bbox[3] - bbox[1])) / 2 - bbox[1]
            sdraw.text((gx, gy), ch, font=glyph, fill=0)
        wear = _noise(rng, seal.size, max(2.0, seal_w / 8)).point(lambda v: 255 if v > 40 else 90)
        self.img.paste((178, 40, 34), (sx, sy), ImageChops.multiply(seal, wear).point(lambda v: v * 225 // 255))


def paint_scene(
    plan: ScenePlan, size: tuple[int, int], prompt: str, step=lambda fraction, message: None
) -> Image.Image:
    """The picture without the caption bar; ``step(fraction, message)`` is called between stages."""
    painter = _Painter(plan, size)
    stages = (
        ("Laying in the sky", painter.sky),
        ("Placing the sun and moon", painter.orb),
        ("Washing in the mountains", painter.mountains),
        ("Reflecting the water", painter.water),
        ("Drawing the foreground", painter.foreground),
        ("Adding weather and paper", lambda: (painter.weather(), painter.paper())),
        ("Writing the inscription", lambda: painter.inscription(prompt)),
    )
    for k, (message, stage) in enumerate(stages):
        step(k / len(stages), message)
        stage()
    return painter.img


def caption_height(height: int) -> int:
    return max(12, min(56, round(height * 0.055)))


def draw_caption(size: tuple[int, int], prompt: str, seed: int, palette: Palette) -> Image.Image:
    """A slate-like bar: the prompt on the left (clipped with an ellipsis), the seed on the right."""
    w, h = size
    bar = Image.new("RGB", size, _mix(palette.c("near"), (18, 16, 14), 0.75))
    draw = ImageDraw.Draw(bar)
    font = fonts.load_font(max(7, round(h * 0.5)))
    seed_text = fonts.drawable_text(font, f"seed {seed}")
    pad = max(3, round(h * 0.4))
    seed_w = draw.textlength(seed_text, font=font)
    text = fonts.drawable_text(font, " ".join(prompt.split()))
    room = w - 3 * pad - seed_w
    if room < h:
        seed_text, room = "", w - 2 * pad
    if draw.textlength(text, font=font) > room:
        ellipsis = "…" if fonts.drawable_text(font, "…") else "..."
        lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis (binary search)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if draw.textlength(text[:mid] + ellipsis, font=font) <= room:
                lo = mid
            else:
                hi = mid - 1
        text = text[:lo].rstrip() + ellipsis
    y = h / 2
    draw.text((pad, y), text, font=font, fill=(232, 222, 200), anchor="lm")
    if seed_text:
        draw.text((w - pad, y), seed_text, font=font, fill=(150, 142, 128), anchor="rm")
    draw.line((0, 0, w, 0), fill=_mix(palette.c("accent"), (0, 0, 0), 0.2), width=1)
    return bar


def render_keyframe(
    prompt: str,
    seed: int,
    width: int,
    height: int,
    *,
    negative_prompt: str = "",
    palette: str | None = None,
    step=lambda f, m: None,
) -> tuple[Image.Image, ScenePlan, int]:
    """The full key frame (picture + caption bar), its plan and the caption bar height."""
    plan = plan_scene(prompt, seed, negative_prompt, palette)
    bar_h = caption_height(height) if height >= 48 else 0
    picture = paint_scene(plan, (width, height - bar_h), prompt, step)
    if not bar_h:
        return picture, plan, 0
    frame = Image.new("RGB", (width, height))
    frame.paste(picture, (0, 0))
    frame.paste(draw_caption((width, bar_h), prompt, seed, plan.palette), (0, height - bar_h))
    return frame, plan, bar_h


# --- animatic -------------------------------------------------------------------------


def _ease(t: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, t)))


def camera_box(
    motion: str, t: float, area: tuple[float, float, float, float], aspect: float, focus: tuple[float, float]
) -> tuple[float, float, float, float]:
    """The source rectangle the camera sees at ``t`` (0..1), inside ``area``, of ``aspect`` w/h."""
    ax0, ay0, ax1, ay1 = area
    aw, ah = ax1 - ax0, ay1 - ay0
    if aw / ah > aspect:  # cover: crop the sides
        bw, bh = ah * aspect, ah
    else:
        bw, bh = aw, aw / aspect
    bx0, by0 = ax0 + (aw - bw) / 2, ay0 + (ah - bh) / 2
    e = _ease(t)
    fx, fy = focus
    if motion in ("push_in", "pull_out"):
        k = e if motion == "push_in" else 1 - e
        zoom = 1.0 + 0.2 * k
        cx, cy = 0.5 + (fx - 0.5) * 0.6 * k, 0.5 + (fy - 0.5) * 0.6 * k
    else:
        zoom = 1.16
        span = 0.5 - 0.5 / zoom
        start, end = {
            "pan_left": ((0.5 + span, 0.5), (0.5 - span, 0.5)),
            "pan_right": ((0.5 - span, 0.5), (0.5 + span, 0.5)),
            "tilt_up": ((0.5, 0.5 + span), (0.5, 0.5 - span)),
            "tilt_down": ((0.5, 0.5 - span), (0.5, 0.5 + span)),
        }[motion]
        cx, cy = start[0] + (end[0] - start[0]) * e, start[1] + (end[1] - start[1]) * e
    vw, vh = bw / zoom, bh / zoom
    x0 = min(max(bx0 + cx * bw - vw / 2, bx0), bx0 + bw - vw)
    y0 = min(max(by0 + cy * bh - vh / 2, by0), by0 + bh - vh)
    return (x0, y0, x0 + vw, y0 + vh)


def _mist_layer(rng: _Rng, size: tuple[int, int], band: tuple[float, float], color: RGB, strength: int) -> Image.Image:
    w, h = size
    alpha = _noise(rng, (w, h), max(4.0, h * 0.12)).point(lambda v: max(0, v - 110) * strength // 145)
    profile = _vgradient((w, h), [(0.0, 0), (band[0], 0), ((band[0] + band[1]) / 2, 255), (band[1], 0), (1.0, 0)], "L")
    layer = Image.new("RGBA", (w, h), (*color, 0))
    layer.putalpha(_blur(ImageChops.multiply(alpha, profile), h * 0.02))
    return layer


class _Animatic:
    """Renders the frames of an animatic one at a time (so cancel and progress stay responsive)."""

    def __init__(
        self,
        source: Image.Image,
        bar_h_src: int,
        size: tuple[int, int],
        *,
        motion: str,
        fps: float,
        frames: int,
        rng: _Rng,
        weather: set[str],
        burn_in: bool,
        mist: bool = True,
    ):
        self.w, self.h = size
        scale = self.h / source.height
        self.bar_h = round(bar_h_src * scale) if bar_h_src else 0
        self.scene_h = self.h - self.bar_h
        self.bar = (
            source.crop((0, source.height - bar_h_src, source.width, source.height)).resize(
                (self.w, self.bar_h), Image.Resampling.LANCZOS
            )
            if self.bar_h
            else None
        )
        self.source = source
        self.area = (0.0, 0.0, float(source.width), float(source.height - bar_h_src))
        self.motion, self.fps, self.frames, self.burn_in = motion, fps, frames, burn_in
        self.focus = (rng.u(0.3, 0.7), rng.u(0.35, 0.65))
        lum = ImageStat.Stat(source.resize((8, 8)).convert("L")).mean[0]
        mist_color = (235, 233, 226) if lum > 90 else (150, 165, 190)
        mist_w = round(self.w * 1.6)
        # two bands of mist drifting at different speeds: the parallax a flat key frame lacks
        self.mists = (
            [
                (_mist_layer(rng, (mist_w, self.scene_h), (0.35, 0.75), mist_color, 70), 0.22),
                (_mist_layer(rng, (mist_w, self.scene_h), (0.6, 1.0), mist_color, 95), 0.5),
            ]
            if mist
            else []
        )
        self.direction = 1 if motion != "pan_right" else -1
        self.weather = weather
        count = int(40 + 200 * self.w * self.scene_h / (1280 * 720))
        self.flakes = [(rng.u(0, 1), rng.u(0, 1), rng.u(0.5, 1.5), rng.u(0, 6.28)) for _ in range(count)]
        self.badge_font = fonts.load_mono_font(max(7, round(self.h * 0.032)))

    def frame(self, n: int) -> Image.Image:
        t = n / max(1, self.frames - 1)
        seconds = n / self.fps
        box = camera_box(self.motion, t, self.area, self.w / self.scene_h, self.focus)
        scene = self.source.resize((self.w, self.scene_h), Image.Resampling.BICUBIC, box=box).convert("RGBA")
        for layer, speed in self.mists:
            span = layer.width - self.w
            offset = (seconds * speed * self.w / max(1.0, self.frames / self.fps) * 0.9) % max(1, span)
            x = round(offset if self.direction > 0 else span - offset)
            scene.alpha_composite(layer, (0, 0), (x, 0, x + self.w, self.scene_h))
        if self.weather:
            self._weather(scene, seconds)
        if self.burn_in and self.scene_h >= 40:
            self._badge(scene, n)
        out = Image.new("RGB", (self.w, self.h))
        out.paste(scene.convert("RGB"), (0, 0))
        if self.bar:
            out.paste(self.bar, (0, self.scene_h))
        return out

    def _weather(self, scene: Image.Image, seconds: float) -> None:
        draw = ImageDraw.Draw(scene, "RGBA")
        s = min(self.w, self.scene_h)
        for x0, y0, size, phase in self.flakes:
            if "rain" in self.weather:
                y = ((y0 + seconds * 1.6 * size) % 1.0) * self.scene_h
                x = ((x0 - seconds * 0.25 * size) % 1.0) * self.w
                length = s * 0.035 * size
                draw.line(
                    (x, y, x - length * 0.25, y + length), fill=(225, 230, 240, 70), width=max(1, round(s * 0.0015))
                )
            else:
                y = ((y0 + seconds * 0.09 * size) % 1.0) * self.scene_h
                x = ((x0 + 0.01 * math.sin(seconds * 1.3 + phase)) % 1.0) * self.w
                r = max(0.7, s * 0.0028 * size)
                draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, round(110 + 60 * (size - 0.5))))

    def _badge(self, scene: Image.Image, n: int) -> None:
        text = f"{n:04d}  {timecode(n, self.fps)}"
        draw = ImageDraw.Draw(scene, "RGBA")
        bbox = draw.textbbox((0, 0), text, font=self.badge_font)
        tw, th = bbox[2] - bbox[0], bbox[3] - bbox[1]
        pad = max(2, round(th * 0.45))
        x1, y0 = self.w - pad * 2, pad * 2
        draw.rounded_rectangle((x1 - tw - 2 * pad, y0, x1, y0 + th + 2 * pad), radius=pad, fill=(12, 12, 14, 150))
        draw.text((x1 - tw - pad - bbox[0], y0 + pad - bbox[1]), text, font=self.badge_font, fill=(240, 236, 226, 235))


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
