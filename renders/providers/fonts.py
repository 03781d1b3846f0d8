"""Finding fonts the local provider can draw Chinese (and Latin) captions with.

Machines differ: Debian ships Noto CJK under /usr/share/fonts/opentype/noto, macOS has
PingFang, Windows has YaHei, a slim container may have nothing. We look in the usual places,
then ask fontconfig, and check each candidate really has CJK glyphs (``fc-match :lang=zh``
happily answers DejaVu Sans when fontconfig's cache is stale). Text is filtered to the
characters the chosen font can draw, so a missing font never turns into rows of tofu boxes.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

#: Preferred first: a serif (Song/Ming style) suits classical poems; then sans fallbacks.
CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/Supplemental/Songti.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/simsun.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

LATIN_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)

MONO_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "/System/Library/Fonts/Menlo.ttc",
    "C:/Windows/Fonts/consola.ttf",
)

#: Characters used to decide whether a face really covers Chinese.
_CJK_PROBE = "山水月"
#: A code point no font maps (plane 15 private use): its mask is the font's .notdef glyph.
_MISSING = "\U000f0000"


@dataclass(frozen=True)
class FontSpec:
    """A font file and face index (TrueType collections hold several faces)."""

    path: str
    index: int = 0
    cjk: bool = False


def _mask_key(font: ImageFont.FreeTypeFont, ch: str) -> tuple:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


def _covers(font: ImageFont.FreeTypeFont, chars: str) -> bool:
    missing = _mask_key(font, _MISSING)
    return all(_mask_key(font, ch) != missing for ch in chars)


def _pick_face(path: str) -> FontSpec | None:
    """The Simplified Chinese face of a collection if there is one, else the first CJK face."""
    faces: list[tuple[int, str]] = []
    for index in range(16):
        try:
            font = ImageFont.truetype(path, 24, index=index)
        except OSError:
            break
        family = " ".join(font.getname() or ())
        faces.append((index, family))
        if not path.lower().endswith((".ttc", ".otc")):
            break
    ordered = sorted(faces, key=lambda f: (" SC" not in f[1] and "GB" not in f[1], f[0]))
    for index, _family in ordered:
        font = ImageFont.truetype(path, 24, index=index)
        if _covers(font, _CJK_PROBE):
            return FontSpec(path, index, cjk=True)
    return None


def _fontconfig_candidates() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    # Regular weights first; they read best at caption sizes.
    return sorted(files, key=lambda f: ("Bold" in f or "Black" in f or "Light" in f, f))


@functools.lru_cache(maxsize=None)
def find_cjk_font() -> FontSpec | None:
    """The first installed font face that really draws Chinese, or None."""
    seen: set[str] = set()
    for path in (*CJK_FONT_CANDIDATES, *_fontconfig_candidates()):
        if path in seen or not Path(path).is_file():
            continue
        seen.add(path)
        try:
            spec = _pick_face(path)
        except OSError:
            continue
        if spec:
            return spec
    return None


def _first_loadable(candidates) -> FontSpec | None:
    """The first candidate path that exists and that FreeType can open."""
    for path in candidates:
        if Path(path).is_file():
            try:
                ImageFont.truetype(path, 12)
            except OSError:
                continue
            return FontSpec(path, 0)
    return None


@functools.lru_cache(maxsize=None)
def find_latin_font() -> FontSpec | None:
    return _first_loadable(LATIN_FONT_CANDIDATES)


@functools.lru_cache(maxsize=None)
def find_mono_font() -> FontSpec | None:
    return _first_loadable(MONO_FONT_CANDIDATES)


@functools.lru_cache(maxsize=64)
def load_mono_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A fixed-width font for burned-in counters (digits that do not jitter)."""
    spec = find_mono_font()
    if spec:
        return ImageFont.truetype(spec.path, max(6, int(size)), index=spec.index)
    return load_font(size, prefer_cjk=False)


@functools.lru_cache(maxsize=64)
def load_font(size: int, *, prefer_cjk: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font at ``size`` px: CJK-capable if installed, else Latin, else Pillow's built-in."""
    size = max(6, int(size))
    spec = (find_cjk_font() if prefer_cjk else None) or find_latin_font()
    if spec:
        return ImageFont.truetype(spec.path, size, index=spec.index)
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=8192)
def _can_draw(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    if ch.isspace():
        return True
    try:
        return _mask_key(font, ch) != _mask_key(font, _MISSING)
    except (UnicodeError, OSError, ValueError):
        return False


def drawable_text(font, text: str) -> str:
    """``text`` without the characters ``font`` would draw as tofu; runs of spaces collapsed."""
    if not isinstance(font, ImageFont.FreeTypeFont):
        # Pillow's bitmap fallback only knows Latin-1.
        kept = "".join(ch for ch in text if ch.isspace() or (" " <= ch <= "\xff"))
    else:
        kept = "".join(ch for ch in text if _can_draw(font, ch))
    return " ".join(kept.split())


def has_cjk(text: str) -> bool:
    return any(_is_cjk(ch) for ch in text)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F or 0xF900 <= code <= 0xFAFF
    )


def cjk_chars(text: str) -> str:
    """Only the Han characters of ``text`` (for seals and vertical inscriptions)."""
    return "".join(ch for ch in text if _is_cjk(ch))
