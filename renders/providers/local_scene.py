"""What the local provider paints, decided before any pixel: words in the prompt pick the
palette and motifs (月 → night and moon, 雪 → snow, 舟 → a boat, 松 → a pine, ...), the seed
picks everything else (layout, mountain style, which optional motifs appear).

``_Rng`` is the one source of randomness for every stage (plan, painter, animatic), seeded
from named parts, so the same (prompt, seed) always gives the same picture.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

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
