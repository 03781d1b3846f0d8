"""Brush primitives for the local provider's painter and animatic: colour mixing, gradients,
washes, value noise, ridgelines, and the small motif sprites (boat, scholar, pagoda) drawn
supersampled in a 0..100 box."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFilter

from renders.providers.local_scene import RGB, _Rng


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
