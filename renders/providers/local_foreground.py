"""The foreground of a local key frame: rock, pavilion, pine, bamboo, blossom, boat, scholar, birds.

Half of the painter by size, so it lives apart as a mixin of ``local_painter._Painter``.
"""

from __future__ import annotations

import math

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from renders.providers.local_ink import _blur, _draw_boat, _draw_pagoda, _draw_scholar, _mix, _noise, _ridge, _sprite
from renders.providers.local_scene import _hex, _Rng


class _Foreground:
    """Foreground motifs, drawn on the painter's canvas: uses its ``img``, ``w``, ``h``, ``s``,
    ``plan``, ``pal``, ``ridges``, ``rng()`` and ``fill()``; sets ``ground_side`` and ``ground``."""

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
