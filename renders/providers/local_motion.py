"""The local provider's animatics: a slow camera move over the key frame (push-in, pull-out,
pan or tilt), drifting mist for parallax, snow or rain when the prompt asks, and a burned-in
frame counter and timecode so reviewers can quote exact frames.

Frames are made one at a time (``_Animatic.frame``), so the encoder loop can report progress
and honour cancel between them.
"""

from __future__ import annotations

import math

from PIL import Image, ImageChops, ImageDraw, ImageStat

from renders.media import timecode
from renders.providers import fonts
from renders.providers.local_ink import _blur, _noise, _vgradient
from renders.providers.local_scene import RGB, _Rng

#: The camera moves camera_box makes; a video without a ``motion`` param gets one picked by the seed.
MOTIONS = ("push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down")


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
