"""The local provider's key frame: a guofeng (Chinese ink-and-colour) landscape from a
ScenePlan, laid in back to front like washes (sky, sun or moon, mountains, water, foreground,
weather, paper, inscription and seal), over a slate-like caption bar with the prompt and seed.
"""

from __future__ import annotations

import re

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from renders.providers import fonts
from renders.providers.local_foreground import _Foreground
from renders.providers.local_ink import _blur, _mix, _noise, _ridge, _scale, _sprite, _vgradient
from renders.providers.local_scene import RGB, SEAL_TEXTS, Palette, ScenePlan, _hex, _Rng, plan_scene


class _Painter(_Foreground):
    """One key frame's canvas; each stage draws from its own named, seeded ``_Rng`` stream."""

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
