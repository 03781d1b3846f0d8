"""The demo project: a three-minute guofeng short after Wang Wei's 《山居秋暝》.

``seed()`` builds it once through projects.services, so the demo has the same members,
revisions, notifications and gap-free event log as a project the team made by hand.
Demo passwords are random, generated once and kept in ``VAR_DIR/demo_logins.json``
(mode 0600); nothing here is a fixed credential.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from . import services
from .models import Membership, Project, Role, ShotStatus, StylePreset

User = get_user_model()

PROJECT_NAME = "山居秋暝 · Autumn Dusk in the Mountains"
POEM_ZH = "空山新雨后，天气晚来秋。明月松间照，清泉石上流。竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留。"
POEM_EN = (
    "After fresh rain on the empty mountain, the evening air turns to autumn. The bright moon shines "
    "between the pines; a clear spring flows over the stones. Bamboo rustles: the washing girls are "
    "coming home; lotus leaves stir: a fishing boat drifts down. Let spring's fragrance fade as it "
    "will — a noble son may well stay."
)
PROJECT_DESCRIPTION = (
    "以王维《山居秋暝》为本的三分钟国风短片：雨后空山、松间明月、石上清泉、竹喧莲动，"
    "一位隐居的诗人在秋夜里决定留下。三场戏，二十四个镜头，水墨与工笔相结合的画面风格。\n\n"
    "A three-minute guofeng short after Wang Wei's poem “Dwelling in the Mountains, Autumn Dusk”: "
    "empty hills after rain, the moon through the pines, a spring over the stones, washing girls and a "
    "fishing boat — and a hermit poet who decides to stay. Three sequences, twenty-four shots, ink wash "
    "with gongbi figures.\n\n"
    f"{POEM_ZH}\n{POEM_EN}"
)
LOGINS_FILENAME = "demo_logins.json"


@dataclass(frozen=True)
class DemoUser:
    username: str
    name: str
    role: str


DEMO_USERS = (
    DemoUser("director", "林导演 Director Lin", Role.OWNER),
    DemoUser("artist", "陈美术 Artist Chen", Role.ARTIST),
    DemoUser("reviewer", "王审阅 Reviewer Wang", Role.REVIEWER),
    DemoUser("artist2", "赵美术 Artist Zhao", Role.ARTIST),
)


def bilingual(zh: str, en: str) -> str:
    return f"{zh}\n{en}"


COMMON_NEGATIVE = bilingual(
    "低质量，模糊，噪点，畸形手指，多余肢体，五官扭曲，文字，水印，签名，现代建筑，电线杆，汽车，塑料感，过度锐化，过度饱和",
    "low quality, blurry, noise, malformed hands, extra limbs, distorted face, text, watermark, signature, "
    "modern buildings, power lines, cars, plastic look, oversharpened, oversaturated",
)
#: Title cards want characters, so "text" is not negative there; wrong characters are.
CALLIGRAPHY_NEGATIVE = bilingual(
    "低质量，模糊，错别字，笔画粘连，印刷体字体，现代建筑，水印，过度饱和",
    "low quality, blurry, wrong or malformed characters, merged strokes, printed typeface, modern buildings, "
    "watermark, oversaturated",
)

INK = "国风水墨 Guofeng ink wash"
GONGBI = "工笔重彩 Gongbi colour"
CINEMATIC = "电影感光影 Cinematic light"
NEGATIVE = "通用负面 Common negative"
GIRL = "角色：浣女 Character: washing girl"
POET = "角色：诗人 Character: the poet"

PRESETS = (
    {
        "name": INK,
        "kind": StylePreset.Kind.STYLE,
        "prompt": bilingual(
            "国风水墨画，宣纸肌理，墨分五色，浓淡干湿，大面积留白，淡彩点染，远山如黛，烟云缭绕",
            "guofeng Chinese ink-wash painting, xuan paper texture, five tones of ink wet and dry, generous "
            "negative space, light colour washes, misty layered mountains",
        ),
        "negative_prompt": bilingual("油画质感，3D 渲染，塑料感，过度饱和", "oil painting, 3D render, plastic look, oversaturated"),
        "params": {"aspect": "16:9"},
    },
    {
        "name": GONGBI,
        "kind": StylePreset.Kind.STYLE,
        "prompt": bilingual(
            "工笔重彩，细腻勾线，石青石绿朱砂等矿物颜料，绢本设色，人物精致，衣纹流畅",
            "gongbi fine-line painting in heavy mineral colours (azurite, malachite, cinnabar) on silk, "
            "delicate figures, flowing drapery lines",
        ),
        "negative_prompt": bilingual("粗糙线条，卡通，动漫大眼", "rough linework, cartoon, anime big eyes"),
        "params": {"aspect": "16:9"},
    },
    {
        "name": CINEMATIC,
        "kind": StylePreset.Kind.STYLE,
        "prompt": bilingual(
            "电影感光影，体积光，轮廓光，浅景深，细腻胶片颗粒，变形宽银幕镜头质感，冷暖对比调色",
            "cinematic lighting, volumetric light, rim light, shallow depth of field, fine film grain, "
            "anamorphic lens feel, warm-cool colour grade",
        ),
        "negative_prompt": bilingual("平光，过曝，死黑", "flat lighting, blown highlights, crushed blacks"),
        "params": {"aspect": "16:9"},
    },
    {
        "name": NEGATIVE,
        "kind": StylePreset.Kind.SNIPPET,
        "prompt": "",
        "negative_prompt": COMMON_NEGATIVE,
        "params": {},
    },
    {
        "name": GIRL,
        "kind": StylePreset.Kind.SNIPPET,
        "prompt": bilingual(
            "浣纱少女，十六七岁，浅青色交领襦裙，双丫髻，素色发带，赤足，挎竹篮，笑容明朗",
            "a washing girl of about sixteen, pale celadon cross-collar ruqun dress, twin buns with plain "
            "ribbons, bare feet, bamboo basket on her arm, bright smile",
        ),
        "negative_prompt": "",
        "params": {},
    },
    {
        "name": POET,
        "kind": StylePreset.Kind.SNIPPET,
        "prompt": bilingual(
            "隐居诗人，四十余岁，清瘦，素色麻布长衫，发髻束巾，神情淡然",
            "hermit poet in his forties, lean, plain hemp robe, hair in a cloth-tied topknot, calm expression",
        ),
        "negative_prompt": "",
        "params": {},
    },
)

SEQUENCES = (
    # code, title, style shared by the sequence's prompts (zh, en)
    ("SQ010", "空山新雨 · Empty mountains after rain",
     ("国风水墨，宣纸肌理，墨分五色，淡彩点染，电影感构图，细节丰富，8K",
      "guofeng ink-wash painting, xuan paper texture, five tones of ink, light colour washes, cinematic "
      "framing, highly detailed, 8K")),
    ("SQ020", "明月清泉 · Moon through pines, spring over stones",
     ("国风水墨夜景，冷调月光，青绿山水点染，电影感光影，细腻胶片颗粒，8K",
      "guofeng ink-wash nocturne, cool moonlight, touches of blue-green landscape colour, cinematic "
      "lighting, fine film grain, 8K")),
    ("SQ030", "浣女渔舟 · Washing girls and the fishing boat",
     ("人物工笔重彩、背景写意水墨，国风电影感光影，细节丰富，8K",
      "figures in fine-line gongbi colour over freehand ink-wash backgrounds, guofeng cinematic lighting, "
      "highly detailed, 8K")),
)

#: The local provider's camera moves (renders/providers/local.py MOTIONS), with their names.
CAMERA_MOVES = {
    "push_in": "slow push-in",
    "pull_out": "slow pull-out",
    "pan_left": "slow pan left",
    "pan_right": "slow pan right",
    "tilt_up": "slow tilt up",
    "tilt_down": "slow tilt down",
}
LOOK_LABELS = (
    ("camera", "镜头", "Camera"),
    ("composition", "构图", "Composition"),
    ("light", "光线", "Lighting"),
    ("palette", "色调", "Palette"),
    ("style", "风格", "Style"),
)


@dataclass(frozen=True)
class ShotPlan:
    sequence: str
    code: str
    title: tuple[str, str]
    seconds: int
    description: str
    #: subject, camera, composition, light, palette (and optionally style), each (zh, en)
    look: dict
    motion: str
    presets: tuple[str, ...] = (INK, NEGATIVE)
    negative: str = COMMON_NEGATIVE
    assignee: str | None = None
    status: str = ShotStatus.TODO

    @property
    def full_code(self) -> str:
        return f"{self.sequence}_{self.code}"


@dataclass(frozen=True)
class Refinement:
    """A second revision: what changed in the look, who wrote it and why."""

    shot: str
    author: str
    note: str
    look: dict
    presets: tuple[str, ...] = field(default=())


def compose_prompt(look: dict) -> str:
    """Chinese first, then English; one labelled line per aspect so diffs stay readable."""
    zh = [f"{look['subject'][0]}。"] + [f"{label_zh}：{look[key][0]}。" for key, label_zh, _ in LOOK_LABELS]
    en = [f"{look['subject'][1]}."] + [f"{label_en}: {look[key][1]}." for key, _, label_en in LOOK_LABELS]
    return "\n".join(zh) + "\n\n" + "\n".join(en)


SHOTS = (
    # --- SQ010 空山新雨后，天气晚来秋 --------------------------------------------------------
    ShotPlan(
        "SQ010", "SH010", ("雨歇空山", "Rain stops over empty mountains"), 9,
        "“空山新雨后”：雨刚停，远山层叠，雾气从谷底升起，为全片定调的开场远景。\n"
        "Opening establishing shot for “after fresh rain on the empty mountain”: the rain stops, ridges layer "
        "into the distance, mist climbs out of the valleys.",
        {
            "subject": ("雨后空山，层层远山隐于流动的白雾之中，最后几缕细雨斜斜飘落，山谷升起水汽，不见人迹",
                        "Empty mountains just after rain: layered distant peaks half-hidden in drifting white mist, "
                        "the last threads of fine rain slanting down, vapour rising from the valleys, no people"),
            "camera": ("超广角远景，24mm，缓慢下摇", "ultra-wide establishing shot, 24mm, slow tilt down"),
            "composition": ("远中近三层山体，上方三分之一留白，近景湿润松枝压左下角",
                            "three planes of ridges, top third left empty, a wet pine bough anchoring the lower left corner"),
            "light": ("雨后阴天柔和散射光，天际一线微亮", "soft overcast light after rain, a thin bright seam along the horizon"),
            "palette": ("墨青、石绿、雾白，低饱和", "ink blue-black, malachite green, mist white, low saturation"),
        },
        "tilt_down", assignee="artist", status=ShotStatus.IN_PROGRESS,
    ),
    ShotPlan(
        "SQ010", "SH020", ("檐滴", "Drips from the eaves"), 6,
        "雨停后的第一个细节：茅屋檐角的水滴落入石钵，声音引出山居。\n"
        "The first detail after the rain: a drop from the thatched eave falls into a stone basin; its sound "
        "introduces the dwelling.",
        {
            "subject": ("茅屋檐角，一滴雨水悬垂将落，落入下方青石水钵，激起一圈涟漪，背景是虚化的竹林与远山",
                        "The corner of a thatched eave, a single raindrop hanging and about to fall into a bluestone "
                        "water basin below, one ring of ripples, bamboo and far mountains soft in the background"),
            "camera": ("微距特写，100mm 微距镜头，极浅景深，缓慢推近",
                       "macro close-up, 100mm macro lens, very shallow depth of field, slow push-in"),
            "composition": ("水滴位于右上三分点，水钵占下方，前后景虚实对比",
                            "drop on the upper-right third, basin filling the bottom, sharp foreground against a blurred background"),
            "light": ("雨后天光从背后透来，水滴边缘一线高光", "after-rain skylight from behind, a rim highlight on the drop"),
            "palette": ("青灰、苔绿，点缀茅草暖黄", "blue-grey, moss green, touches of warm thatch yellow"),
        },
        "push_in", assignee="artist", status=ShotStatus.REVIEW,
    ),
    ShotPlan(
        "SQ010", "SH030", ("山居", "The mountain dwelling"), 8,
        "交代诗人的居所：半山茅屋、竹篱、老松与炊烟。\n"
        "Establishes the poet's home: a thatched hut halfway up the slope, bamboo fence, old pines, cooking smoke.",
        {
            "subject": ("半山腰一座茅屋，竹篱环绕，屋旁几株老松，炊烟袅袅升起融入山雾，石阶湿润",
                        "A thatched hut halfway up the mountain, ringed by a bamboo fence, old pines beside it, a thread "
                        "of cooking smoke rising into the mountain mist, wet stone steps"),
            "camera": ("大全景，35mm，缓慢向右横移", "wide shot, 35mm, slow pan right"),
            "composition": ("茅屋位于左三分线，右侧山谷与云雾留白，石阶引导视线",
                            "hut on the left third, valley and cloud left open on the right, stone steps leading the eye"),
            "light": ("傍晚天光渐暖，屋内透出一点灯火", "evening skylight turning warm, a small glow of lamplight inside the hut"),
            "palette": ("墨绿、赭石、暖灰、灯火橙", "deep ink green, ochre, warm grey, lamplight orange"),
        },
        "pan_right", assignee="director", status=ShotStatus.REVIEW,
    ),
    ShotPlan(
        "SQ010", "SH040", ("雾起林梢", "Mist climbs the treetops"), 7,
        "秋林雨后，红枫银杏间雾气流动，点出“秋”字。\n"
        "The autumn forest after rain, mist flowing between red maples and ginkgo: the first sign of “autumn”.",
        {
            "subject": ("雨后秋林，红枫与银杏夹杂在松林中，白雾从林梢间缓缓流过，枝叶挂满水珠",
                        "Autumn forest after rain: red maples and ginkgo among the pines, white mist flowing slowly "
                        "through the treetops, leaves hung with water beads"),
            "camera": ("中远景，50mm，缓慢向左横移，前景枝叶掠过制造视差",
                       "medium-wide shot, 50mm, slow pan left with foreground leaves sliding past for parallax"),
            "composition": ("林梢横贯画面中部，雾带呈 S 形流动，上下留白",
                            "treeline across the middle, a band of mist flowing in an S-curve, open space above and below"),
            "light": ("散射柔光，雾中透出淡淡暖色", "diffuse soft light, faint warmth glowing through the mist"),
            "palette": ("枫红、银杏黄、松墨绿、雾白", "maple red, ginkgo yellow, pine ink green, mist white"),
        },
        "pan_left", assignee="artist", status=ShotStatus.IN_PROGRESS,
    ),
    ShotPlan(
        "SQ010", "SH050", ("推门", "The poet opens the door"), 8,
        "主角登场：诗人推门，深吸雨后凉气。\n"
        "The hero's entrance: the poet opens his door and breathes in the cool air after the rain.",
        {
            "subject": ("隐居诗人（清瘦的中年男子，素色麻布长衫，发髻束巾）推开木门，深吸一口雨后凉气，门外山雾扑面",
                        "The hermit poet (a lean middle-aged man in a plain hemp robe, hair tied in a cloth topknot) "
                        "pushes open the wooden door and breathes in the cool after-rain air, mountain mist drifting in"),
            "camera": ("中景，50mm，从屋外缓慢推近人物", "medium shot, 50mm, slow push-in from outside the hut"),
            "composition": ("门框形成画中画，人物居中偏右，视线望向画外左侧山谷",
                            "door frame as a frame within the frame, poet just right of centre, gaze off-screen left to the valley"),
            "light": ("屋内暖灯轮廓光，屋外冷调天光照亮面部",
                      "warm lamplight rim from inside, cool skylight from outside on his face"),
            "palette": ("木褐、麻布米白、冷青灰", "wood brown, hemp off-white, cool blue-grey"),
        },
        "push_in", presets=(INK, POET, NEGATIVE), assignee="artist2", status=ShotStatus.IN_PROGRESS,
    ),
    ShotPlan(
        "SQ010", "SH060", ("秋叶含珠", "Raindrops on autumn leaves"), 6,
        "诗人视点的特写：枫叶上的水珠映出远山。\n"
        "The poet's point of view: beads of rain on a maple leaf, each reflecting the far mountains.",
        {
            "subject": ("一片半红的枫叶，叶脉清晰，叶面挂着几颗圆润水珠，水珠中倒映着远山与天光",
                        "A half-red maple leaf with crisp veins, a few round water beads on its surface, each bead "
                        "reflecting the far mountains and the sky"),
            "camera": ("微距大特写，100mm 微距，缓慢推近并移焦", "extreme macro close-up, 100mm macro, slow push-in with a focus pull"),
            "composition": ("叶片斜贯对角线，背景纯净虚化", "leaf running along the diagonal, clean blurred background"),
            "light": ("侧逆光，叶片半透明，水珠高光晶莹", "side-backlight making the leaf translucent, glistening highlights in the beads"),
            "palette": ("朱红渐变到青黄，背景墨绿", "vermilion fading to yellow-green, ink green background"),
        },
        "push_in", assignee="artist",
    ),
    ShotPlan(
        "SQ010", "SH070", ("晚来秋", "Autumn arrives at dusk"), 8,
        "“天气晚来秋”：天色放晴，暮光与雁阵，秋意渐浓。\n"
        "“The evening air turns to autumn”: the sky clears, dusk light and a skein of geese.",
        {
            "subject": ("天色放晴，黄昏的余晖洒在山脊上，一行大雁排成人字飞过晚空，山间秋意渐浓",
                        "The sky clears; dusk light rakes the ridgeline, a skein of wild geese crosses the evening sky "
                        "in a V, autumn settling over the hills"),
            "camera": ("大远景，35mm，缓慢拉远", "extreme wide shot, 35mm, slow pull-out"),
            "composition": ("地平线压低在下三分之一，天空占三分之二，雁阵在右上",
                            "horizon low on the bottom third, sky filling two thirds, geese in the upper right"),
            "light": ("黄昏暖色侧光，远山背光面冷调", "warm raking dusk light, cool shadows on the far slopes"),
            "palette": ("暮金、赭红、黛蓝", "dusk gold, red ochre, indigo"),
        },
        "pull_out", assignee="artist",
    ),
    ShotPlan(
        "SQ010", "SH080", ("题诗", "Title card"), 8,
        "片名卡：行书“山居秋暝”，朱印，淡墨山影。\n"
        "Title card: 山居秋暝 in running-script calligraphy with a vermilion seal over faint ink mountains.",
        {
            "subject": ("片名卡：竖排行书“山居秋暝”四字，右下一方朱红印章，背景是淡墨山影与流动云雾",
                        "Title card: the four characters 山居秋暝 in vertical running-script calligraphy, a vermilion "
                        "seal at lower right, faint ink mountains and drifting clouds behind"),
            "camera": ("固定机位，极缓慢推近", "locked-off frame, very slow push-in"),
            "composition": ("书法竖排于右三分线，左侧大面积留白",
                            "calligraphy in a vertical column on the right third, generous empty space on the left"),
            "light": ("均匀柔光，纸面微微泛暖", "even soft light, paper slightly warm"),
            "palette": ("宣纸米白、浓墨、印章朱红", "rice-paper white, rich black ink, seal vermilion"),
            "style": ("书法题跋与水墨山水，宣纸肌理，留白，8K", "calligraphy inscription over ink-wash landscape, xuan paper texture, negative space, 8K"),
        },
        "push_in", negative=CALLIGRAPHY_NEGATIVE, assignee="director", status=ShotStatus.IN_PROGRESS,
    ),
    # --- SQ020 明月松间照，清泉石上流 --------------------------------------------------------
    ShotPlan(
        "SQ020", "SH010", ("月出东山", "Moon rises over the eastern ridge"), 8,
        "夜幕降临，满月从东山升起，进入“明月”一场。\n"
        "Night falls; a full moon rises over the eastern ridge and opens the moonlight sequence.",
        {
            "subject": ("一轮满月从东山山脊后缓缓升起，山体只剩剪影，天空由黛蓝过渡到深青",
                        "A full moon slowly rising behind the eastern ridge, the mountains reduced to silhouettes, the "
                        "sky grading from indigo to deep teal"),
            "camera": ("远景，85mm 长焦压缩空间，缓慢上摇", "wide shot on an 85mm telephoto to compress depth, slow tilt up"),
            "composition": ("月亮位于画面右上，山脊线斜切画面下部", "moon in the upper right, ridgeline cutting diagonally across the lower frame"),
            "light": ("蓝调时刻，月光冷白，山脊边缘一线银光", "blue hour, cold white moonlight, a silver rim along the ridge"),
            "palette": ("黛蓝、深青、月白", "indigo, deep teal, moon white"),
        },
        "tilt_up", presets=(INK, CINEMATIC, NEGATIVE), assignee="artist", status=ShotStatus.REVIEW,
    ),
    ShotPlan(
        "SQ020", "SH020", ("松间明月", "Moon between the pines"), 8,
        "“明月松间照”：仰望古松，月光从松枝间洒下。\n"
        "“The bright moon shines between the pines”: looking up through ancient pines into the moonlight.",
        {
            "subject": ("仰视古松，一轮明月从交错的松枝间透出，松针剪影清晰，月光在枝间化作光束",
                        "Looking up through ancient pines, the bright moon shining between the crossing branches, "
                        "pine needles in crisp silhouette, moonlight breaking into beams among the boughs"),
            "camera": ("低角度仰拍，24mm，缓慢推近", "low-angle shot looking up, 24mm, slow push-in"),
            "composition": ("松枝从四角伸入形成框架，月亮居中偏上",
                            "pine branches reaching in from the corners as a frame, moon just above centre"),
            "light": ("月光逆光，体积光穿过松针，薄雾中光束清晰可见",
                      "moonlight backlight, volumetric rays through the needles, beams clearly visible in thin mist"),
            "palette": ("冷银、墨黑、松针暗绿", "cool silver, ink black, dark pine green"),
        },
        "push_in", presets=(INK, CINEMATIC, NEGATIVE), assignee="director", status=ShotStatus.IN_PROGRESS,
    ),
    ShotPlan(
        "SQ020", "SH030", ("月影婆娑", "Dappled moon shadows"), 7,
        "诗人月下漫步，松影斑驳。\n"
        "The poet walks through dappled pine shadows under the moon.",
        {
            "subject": ("月光透过松林洒在长满青苔的山径上，斑驳树影随风摇曳，诗人的身影缓步穿行其间",
                        "Moonlight falling through the pine forest onto a moss-covered mountain path, dappled shadows "
                        "swaying in the wind, the poet walking slowly through them"),
            "camera": ("俯拍中景，35mm，缓慢下摇跟随人物", "high-angle medium shot, 35mm, slow tilt down following the poet"),
            "composition": ("山径呈对角线穿过画面，人物位于下三分之一", "path running diagonally through the frame, poet on the lower third"),
            "light": ("顶部月光硬光，树影斑驳，对比适中", "hard moonlight from above, dappled shadows, moderate contrast"),
            "palette": ("苔绿、银灰、墨黑", "moss green, silver grey, ink black"),
        },
        "tilt_down", presets=(INK, POET, NEGATIVE), assignee="artist2",
    ),
    ShotPlan(
        "SQ020", "SH040", ("清泉石上流", "Spring over the stones"), 8,
        "“清泉石上流”：泉水如丝流过溪石，月光碎成银点。\n"
        "“A clear spring flows over the stones”: silky water over rounded stones, moonlight broken into silver.",
        {
            "subject": ("清澈山泉从圆润的溪石上流过，慢门下水流如丝绢，石缝间月光碎成点点银光",
                        "A clear mountain spring flowing over smooth rounded stones, water like silk under a slow "
                        "shutter, moonlight breaking into silver points between the stones"),
            "camera": ("近景，50mm，贴近水面的低机位，缓慢向右横移",
                       "close shot, 50mm, low camera just above the water, slow pan right"),
            "composition": ("水流从左上流向右下，前景溪石虚化", "water flowing from upper left to lower right, foreground stones soft"),
            "light": ("月光侧光，水面高光闪烁", "side moonlight, sparkling highlights on the water"),
            "palette": ("清透青碧、石灰白、银", "clear jade green, stone white, silver"),
        },
        "pan_right", presets=(INK, CINEMATIC, NEGATIVE), assignee="artist", status=ShotStatus.IN_PROGRESS,
    ),
    ShotPlan(
        "SQ020", "SH050", ("溪声", "Voice of the stream"), 7,
        "诗人坐在溪石上闭目听泉，静的高潮。\n"
        "The poet sits on a stone by the stream, eyes closed, listening: the stillest moment of the film.",
        {
            "subject": ("诗人盘坐溪边青石上，闭目聆听水声，衣袖被夜风轻轻吹起，身旁放着一卷竹简",
                        "The poet sits cross-legged on a bluestone by the stream, eyes closed, listening to the water; "
                        "the night wind lifts his sleeve, a bamboo-slip scroll beside him"),
            "camera": ("中景，50mm，缓慢推近", "medium shot, 50mm, slow push-in"),
            "composition": ("人物居左三分线，右侧溪流与月光留白", "poet on the left third, stream and moonlight filling the right"),
            "light": ("月光从右后方勾勒轮廓，面部柔和补光", "moonlight rim from behind right, gentle fill on the face"),
            "palette": ("麻布米白、青石灰、夜蓝", "hemp off-white, bluestone grey, night blue"),
        },
        "push_in", presets=(INK, POET, NEGATIVE),
    ),
    ShotPlan(
        "SQ020", "SH060", ("石上青苔", "Moss on stones"), 6,
        "溪石青苔与落下的松针，水膜映月。\n"
        "Moss and fallen pine needles on a stream stone under a film of moonlit water.",
        {
            "subject": ("溪石上的青苔与几根落下的松针，一层薄薄的水膜缓缓流过，映出月光",
                        "Moss and a few fallen pine needles on a stream stone, a thin film of water sliding over them "
                        "and catching the moonlight"),
            "camera": ("微距特写，100mm，缓慢向左横移", "macro close-up, 100mm, slow pan left"),
            "composition": ("青苔纹理铺满画面下半部，上方水光虚化", "moss texture filling the lower half, soft water light above"),
            "light": ("月光掠射，突出青苔质感", "grazing moonlight bringing out the moss texture"),
            "palette": ("翠绿、墨绿、银白", "emerald, ink green, silver white"),
        },
        "pan_left", assignee="artist",
    ),
    ShotPlan(
        "SQ020", "SH070", ("月照流泉", "Moonlit cascade"), 9,
        "小瀑布跌入深潭，水雾在月下发光，本场最开阔的画面。\n"
        "A small waterfall into a deep pool, its spray glowing in the moonlight: the widest frame of the sequence.",
        {
            "subject": ("山间一道小瀑布跌入深潭，水雾在月光下发出微光，两侧松石环抱",
                        "A small waterfall dropping into a deep pool in the mountains, spray glowing in the moonlight, "
                        "pines and rocks embracing it on both sides"),
            "camera": ("全景，35mm，缓慢拉远", "full wide shot, 35mm, slow pull-out"),
            "composition": ("瀑布位于中轴偏左，深潭占下方，对称中带变化",
                            "waterfall just left of centre, pool across the bottom, near-symmetry with variation"),
            "light": ("月光顶光，水雾形成柔和光晕", "moonlight from above, spray forming a soft halo"),
            "palette": ("月白、青黛、深潭墨蓝", "moon white, blue-black, deep-pool ink blue"),
        },
        "pull_out", presets=(INK, CINEMATIC, NEGATIVE), assignee="artist2", status=ShotStatus.REVIEW,
    ),
    ShotPlan(
        "SQ020", "SH080", ("竹影萤光", "Fireflies by the bamboo"), 7,
        "萤火点点，远处竹林开始摇动，笑语传来，引出下一场。\n"
        "Fireflies drift; the bamboo beyond begins to stir and laughter is heard, leading into the next sequence.",
        {
            "subject": ("溪边草丛中几点萤火缓缓飞舞，远处竹林开始轻轻摇动，隐约传来笑语",
                        "A few fireflies drifting over the grass by the stream, the bamboo grove beyond beginning to "
                        "stir, faint laughter in the distance"),
            "camera": ("中景，50mm 浅景深，缓慢向右横移转向竹林", "medium shot, 50mm shallow depth of field, slow pan right towards the bamboo"),
            "composition": ("萤火作前景光点，竹林在后景逐渐清晰", "fireflies as foreground points of light, the bamboo resolving behind"),
            "light": ("月光为主，萤火点状暖光", "moonlight key, small warm points of firefly light"),
            "palette": ("夜蓝、竹青、萤黄", "night blue, bamboo green, firefly yellow"),
        },
        "pan_right", presets=(INK, CINEMATIC, NEGATIVE),
    ),
    # --- SQ030 竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留 --------------------------------
    ShotPlan(
        "SQ030", "SH010", ("竹喧", "Rustling bamboo"), 7,
        "“竹喧”：月下竹林沙沙作响，灯笼暖光与笑声先于人物出现。\n"
        "“Bamboo rustles”: the grove stirs under the moon; lantern light and laughter arrive before the girls.",
        {
            "subject": ("月下竹林沙沙作响，竹叶晃动，竹影间隐约透出灯笼暖光，传来少女笑语",
                        "The bamboo grove rustling under the moon, leaves shaking, the warm glow of a lantern flickering "
                        "between the stems, girls' laughter heard"),
            "camera": ("中景，35mm，缓慢推入竹林", "medium shot, 35mm, slow push into the grove"),
            "composition": ("竖向竹竿形成节奏，灯笼光点位于右三分线", "vertical bamboo stems create rhythm, lantern glow on the right third"),
            "light": ("冷月光与灯笼暖光对比", "cold moonlight against warm lantern light"),
            "palette": ("竹青、墨绿、灯笼橙", "bamboo green, ink green, lantern orange"),
        },
        "push_in", presets=(INK, CINEMATIC, NEGATIVE), assignee="artist",
    ),
    ShotPlan(
        "SQ030", "SH020", ("归浣女", "The washing girls return"), 9,
        "“归浣女”：浣纱少女结伴沿溪归来，全片最热闹的一刻。\n"
        "“The washing girls are coming home”: the girls return along the stream together, the liveliest moment of the film.",
        {
            "subject": ("几位浣纱少女沿溪边小路结伴归来，身着素色襦裙，挎着装满洗净衣物的竹篮，边走边笑",
                        "Several young washing girls returning together along the stream path in plain ruqun dresses, "
                        "bamboo baskets of washed clothes on their arms, laughing as they walk"),
            "camera": ("中远景，50mm，缓慢向左横移跟随人物", "medium-wide shot, 50mm, slow pan left following the girls"),
            "composition": ("人物呈斜线排列，竹林为背景，溪水在前景", "girls in a diagonal line, bamboo behind, stream in the foreground"),
            "light": ("月光为主光，灯笼暖光勾勒人物", "moonlight key, lantern light warming the figures"),
            "palette": ("素白、浅青、竹绿、灯笼橙", "plain white, pale celadon, bamboo green, lantern orange"),
        },
        "pan_left", presets=(GONGBI, CINEMATIC, NEGATIVE), assignee="artist", status=ShotStatus.IN_PROGRESS,
    ),
    ShotPlan(
        "SQ030", "SH030", ("浣纱", "Rinsing silk"), 6,
        "浣纱特写：白纱从溪水中提起，水珠滴落。\n"
        "Close-up of the washing: white silk lifted out of the stream, drops falling.",
        {
            "subject": ("少女的双手从月光下的溪水中提起一匹白纱，水珠顺着纱线滴落，水面荡开涟漪",
                        "A girl's hands lifting a length of white silk out of the moonlit stream, drops running off the "
                        "threads, ripples spreading on the water"),
            "camera": ("特写，85mm，缓慢上摇跟随白纱", "close-up, 85mm, slow tilt up following the silk"),
            "composition": ("双手与白纱居中，水面反光占下半部", "hands and silk centred, reflections filling the lower half"),
            "light": ("月光逆光，白纱半透明发亮", "moonlight backlight making the silk glow translucent"),
            "palette": ("纱白、溪水青、暖调肤色", "silk white, stream teal, warm skin tones"),
        },
        "tilt_up", presets=(GONGBI, GIRL, NEGATIVE), assignee="artist2",
    ),
    ShotPlan(
        "SQ030", "SH040", ("莲动", "Lotus leaves part"), 7,
        "“莲动”：荷叶忽然分开，暗示有船将出。\n"
        "“Lotus leaves stir”: the leaves part suddenly; a boat is about to appear.",
        {
            "subject": ("月下荷塘，层层荷叶忽然晃动分开，荷叶上的露珠滚落，水面涟漪扩散",
                        "A lotus pond under the moon; the layered leaves suddenly sway and part, dew rolling off them, "
                        "ripples spreading across the water"),
            "camera": ("中景，50mm，贴水面低机位，缓慢推近", "medium shot, 50mm, low camera at water level, slow push-in"),
            "composition": ("荷叶铺满画面，中间分开形成引导线", "lotus leaves filling the frame, parting down the middle as a leading line"),
            "light": ("月光顶光，荷叶边缘银色高光", "moonlight from above, silver highlights on the leaf edges"),
            "palette": ("荷叶墨绿、残荷赭黄、月银", "lotus ink green, faded-lotus ochre, moon silver"),
        },
        "push_in",
    ),
    ShotPlan(
        "SQ030", "SH050", ("下渔舟", "The fishing boat glides down"), 9,
        "“下渔舟”：渔舟自荷丛中驶出，顺流而下。\n"
        "“A fishing boat drifts down”: the boat slips out of the lotus and drifts downstream.",
        {
            "subject": ("一叶小渔舟从荷叶丛中缓缓驶出，顺流而下，船头挂一盏小灯，老渔翁披蓑戴笠撑篙",
                        "A small fishing boat gliding out of the lotus and drifting downstream, a small lamp hanging at "
                        "the bow, an old fisherman in straw cape and hat poling it along"),
            "camera": ("全景，35mm，缓慢向右横移跟随渔舟", "wide shot, 35mm, slow pan right following the boat"),
            "composition": ("渔舟位于左三分线向右行进，前方留出行进空间", "boat on the left third moving right, open lead room ahead"),
            "light": ("冷月光铺满水面，船灯一点暖光", "cold moonlight across the water, one small warm point of lamplight on the boat"),
            "palette": ("夜蓝、荷绿、灯火橙", "night blue, lotus green, lamplight orange"),
        },
        "pan_right", presets=(INK, CINEMATIC, NEGATIVE), assignee="artist", status=ShotStatus.REVIEW,
    ),
    ShotPlan(
        "SQ030", "SH060", ("春芳歇", "Spring's fragrance fades"), 7,
        "“随意春芳歇”：残荷落瓣，萧疏而宁静。\n"
        "“Let spring's fragrance fade as it will”: fallen petals and dry seed pods, sparse but serene.",
        {
            "subject": ("水面上漂着凋零的荷花瓣和干枯莲蓬，秋意萧疏却宁静，花瓣随水缓缓打转",
                        "Fallen lotus petals and dry seed pods floating on the water, autumn sparse yet serene, petals "
                        "slowly turning on the current"),
            "camera": ("俯拍近景，50mm，缓慢下摇", "high-angle close shot, 50mm, slow tilt down"),
            "composition": ("花瓣散落呈弧线，大面积水面留白", "petals scattered along an arc, a wide empty water surface"),
            "light": ("柔和月光，水面微光", "soft moonlight, a faint sheen on the water"),
            "palette": ("褪粉、枯黄、墨青", "faded pink, withered yellow, ink teal"),
        },
        "tilt_down", assignee="director",
    ),
    ShotPlan(
        "SQ030", "SH070", ("王孙自可留", "The noble may stay"), 8,
        "“王孙自可留”：诗人回望空山，微笑，决定留下。\n"
        "“A noble son may well stay”: the poet looks back at the mountains, smiles, and decides to stay.",
        {
            "subject": ("诗人站在茅屋门前，回望月下空山与溪水，嘴角浮现淡然微笑，决定留下；屋内灯火温暖",
                        "The poet stands at the door of his hut, looking back at the moonlit mountains and stream, a "
                        "quiet smile forming as he decides to stay; warm lamplight inside"),
            "camera": ("中近景，85mm，缓慢推近面部", "medium close-up, 85mm, slow push-in on his face"),
            "composition": ("人物居右三分线，左侧为虚化的月下山景", "poet on the right third, soft moonlit landscape on the left"),
            "light": ("屋内暖光为轮廓光，面部月光冷调主光", "warm interior light as rim, cool moonlight key on the face"),
            "palette": ("暖橙与冷青对比，麻布米白", "warm orange against cool teal, hemp off-white"),
        },
        "push_in", presets=(GONGBI, POET, CINEMATIC, NEGATIVE), assignee="artist",
    ),
    ShotPlan(
        "SQ030", "SH080", ("空山归寂", "The mountains fall silent"), 7,
        "结尾：群山归于寂静，一点灯火，全诗书法浮现。\n"
        "Ending: the mountains fall silent, one point of lamplight, the whole poem appears in calligraphy.",
        {
            "subject": ("月下群山归于寂静，半山茅屋只剩一点灯火，全诗以行书缓缓浮现于天空留白处",
                        "The moonlit mountains fall silent, the hut halfway up reduced to a single point of light, the "
                        "whole poem in running-script calligraphy fading in over the empty sky"),
            "camera": ("大远景，24mm，缓慢拉远", "extreme wide shot, 24mm, slow pull-out"),
            "composition": ("山体占下半部，上方留白题诗，灯火位于三分点",
                            "mountains filling the lower half, the poem inscribed in the empty sky, lamplight on a third-point"),
            "light": ("月光柔和均匀，薄雾笼罩", "soft even moonlight under a veil of thin mist"),
            "palette": ("墨黑、月白、一点暖黄", "ink black, moon white, one touch of warm yellow"),
        },
        "pull_out", negative=CALLIGRAPHY_NEGATIVE, assignee="director",
    ),
)

#: Shot comments, each mentioning a teammate; ``after_refinement`` places it after the shot's r2.
COMMENTS = (
    ("SQ010_SH010", "director",
     "@artist 雨丝再细一点，山要拉开三层层次，可以参考范宽《溪山行旅图》的纵深。"
     "Finer rain please, and separate the mountains into three clear layers — see Fan Kuan.", False),
    ("SQ020_SH020", "reviewer",
     "@director 月亮是不是太大了？和 SQ020_SH010 的月亮大小、月相要一致。"
     "Is the moon too big? It should match the moon in SQ020_SH010.", False),
    ("SQ030_SH020", "artist",
     "@reviewer 浣女的人数和服装已按角色设定统一，请看第二版。"
     "The girls now follow the character sheet (three of them, same costume) — please check r2.", True),
)

REFINEMENTS = (
    Refinement(
        "SQ010_SH010", "artist",
        "按导演意见：雨丝更细，山体拉开三层，参考范宽 · Per the director: finer rain, three clear layers of ridges (Fan Kuan)",
        {
            "subject": ("雨后空山，远山三层由浓到淡逐层隐入白雾，雨丝细如牛毛、将停未停，谷底水汽缓缓升腾，不见人迹",
                        "Empty mountains just after rain: three layers of ridges fading from dark to pale into white "
                        "mist, rain as fine as hair and almost stopped, vapour slowly rising from the valley floor, no people"),
            "composition": ("远中近三层山体层次分明，参考范宽《溪山行旅图》的纵深，上方三分之一留白，近景湿润松枝压左下角",
                            "three clearly separated planes of ridges with the depth of Fan Kuan's Travellers among "
                            "Mountains and Streams, top third left empty, a wet pine bough anchoring the lower left corner"),
        },
    ),
    Refinement(
        "SQ020_SH020", "director",
        "月亮太大、对比太硬，缩小并柔化，与 SQ020_SH010 一致 · Moon too big and too contrasty: smaller and softer, matching SQ020_SH010",
        {
            "subject": ("仰视古松，一轮小而清亮的满月从交错的松枝间透出，大小与东山月出一致，松针剪影清晰，月光在枝间化作光束",
                        "Looking up through ancient pines, a small, clear full moon shining between the crossing "
                        "branches, the same size as the moonrise over the eastern ridge, pine needles in crisp "
                        "silhouette, moonlight breaking into beams among the boughs"),
            "light": ("柔和的月光逆光，降低对比，淡淡的体积光穿过松针，薄雾中光束若隐若现",
                      "soft moonlight backlight with lower contrast, faint volumetric rays through the needles, beams "
                      "barely visible in thin mist"),
        },
    ),
    Refinement(
        "SQ030_SH020", "artist",
        "人物一致性：固定三位浣女，服装发型按角色设定 · Consistency: exactly three girls, costume and hair from the character sheet",
        {
            "subject": ("三位浣纱少女沿溪边小路结伴归来，统一穿浅青色交领襦裙，梳双丫髻、系素色发带，挎着装满白纱的竹篮，边走边笑",
                        "Three young washing girls returning together along the stream path, all in pale celadon "
                        "cross-collar ruqun dresses with twin buns and plain ribbons, bamboo baskets of white silk on "
                        "their arms, laughing as they walk"),
        },
        presets=(GIRL,),
    ),
    Refinement(
        "SQ030_SH050", "artist",
        "船灯太弱、画面过冷：加强冷暖对比，加入水面倒影 · Lamp too weak and the frame too cold: stronger warm-cool contrast and a reflection",
        {
            "light": ("冷月光铺满水面，船头灯火暖光明显，在水面拖出一道金色倒影，冷暖对比鲜明",
                      "cold moonlight across the water, a clearly warm lamp at the bow trailing a golden reflection on "
                      "the water, strong warm-cool contrast"),
            "palette": ("夜蓝、荷绿、灯火金橙", "night blue, lotus green, golden lamplight orange"),
        },
    ),
)


# --- logins file ---------------------------------------------------------------------------


class DemoLoginsError(Exception):
    """The saved logins cannot be read; seeding would lose the passwords it holds."""


def logins_path() -> Path:
    return Path(settings.VAR_DIR) / LOGINS_FILENAME


def read_logins(path: Path | None = None) -> dict:
    """``{username: {"password", "role", "name"}}`` from the file, or {} when there is none."""
    path = path or logins_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DemoLoginsError(f"{path} cannot be read ({exc}); fix or delete it and run seed_demo again.") from exc
    if not isinstance(data, dict):
        raise DemoLoginsError(f"{path} is not a JSON object; fix or delete it and run seed_demo again.")
    return {name: entry if isinstance(entry, dict) else {"password": entry} for name, entry in data.items()}


def write_logins(logins: dict, path: Path | None = None) -> None:
    """Replace the file atomically; it is created 0600 so the passwords are never world-readable."""
    path = path or logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".demo_logins.", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(logins, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_password() -> str:
    """Three groups of four from an alphabet without look-alikes (about 57 bits): easy to type, hard to guess."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def format_logins(logins: dict, path: Path | None = None) -> str:
    path = path or logins_path()
    if not logins:
        return f"No demo logins saved in {display_path(path)} (run `manage.py seed_demo`).\n"
    width = max(len(name) for name in logins) + 2
    lines = [f"Demo logins (saved in {display_path(path)}):"]
    for name, entry in logins.items():
        password = entry.get("password")
        if password:
            owner = "   (owner)" if entry.get("role") == Role.OWNER else ""
            lines.append(f"  {name:<{width}}{password}{owner}")
        else:
            lines.append(f"  {name:<{width}}(existing account; password unchanged)")
    return "\n".join(lines) + "\n"


# --- seeding -------------------------------------------------------------------------------


def demo_project() -> Project | None:
    return Project.objects.filter(name=PROJECT_NAME).order_by("id").first()


def seed(stdout=None, render_keyframes: bool = False) -> tuple[Project, dict]:
    """Create the demo project once; if it exists, change nothing and return the saved logins.

    Everything runs in one transaction, so a failure leaves no half-built project behind.
    ``render_keyframes`` queues a key frame for every shot on the local provider, through the
    ordinary render pipeline, so the board fills with thumbnails as the worker renders them.
    """
    path = logins_path()
    with _one_warning_for_unpublished_events(), transaction.atomic():
        project = demo_project()
        if project is not None:
            _say(stdout, f"The demo project “{project.name}” already exists; nothing changed.")
            return project, read_logins(path)
        users, logins = _ensure_users(read_logins(path))
        # Written before the project rows commit: if the commit fails, the next run finds the
        # passwords here and gives the users it creates the same ones.
        write_logins(logins, path)
        project = _build_project(users)
        if render_keyframes:
            _queue_keyframes(project, users["director"])
    shots = project.shots.count()
    seconds = sum(plan.seconds for plan in SHOTS)
    _say(stdout, f"Seeded the demo project “{project.name}”: {project.sequences.count()} sequences, "
                 f"{shots} shots ({seconds // 60} min {seconds % 60:02d} s), {project.presets.count()} presets.")
    return project, logins


def _queue_keyframes(project: Project, director) -> None:
    from renders.services import create_batch_render

    create_batch_render(_membership(project, director), list(project.shots.order_by("sequence__order", "order")),
                        provider="local", kind="image", variants=1)


@contextmanager
def _one_warning_for_unpublished_events():
    """Without Redis every seeded event could log its own publish warning; say it once.

    Nothing is lost: the events are in the table and sockets catch up from it by ``seq``.
    """
    logger = logging.getLogger("projects.events")
    dropped: list[str] = []

    def drop_publish_failure(record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith("could not publish"):
            dropped.append(record.getMessage())
            return False
        return True

    logger.addFilter(drop_publish_failure)
    try:
        yield
    finally:
        logger.removeFilter(drop_publish_failure)
    if dropped:
        logger.warning("While seeding, %d publish failure(s); the first: %s", len(dropped), dropped[0])


def _say(stdout, text: str) -> None:
    if stdout is not None:
        stdout.write(text + "\n")


def _ensure_users(saved: dict) -> tuple[dict, dict]:
    """Demo users, created if missing; an existing account's password is never changed."""
    users, logins = {}, {}
    for demo in DEMO_USERS:
        user = User.objects.filter(username=demo.username).first()
        password = (saved.get(demo.username) or {}).get("password")
        if user is None:
            password = password or new_password()
            user = User.objects.create_user(
                demo.username, email=f"{demo.username}@example.com", password=password, first_name=demo.name
            )
        Token.objects.get_or_create(user=user)
        users[demo.username] = user
        logins[demo.username] = {"password": password, "role": str(demo.role), "name": demo.name}
    return users, logins


def _membership(project: Project, user) -> Membership:
    return Membership.objects.select_related("project", "user").get(project=project, user=user)


def _build_project(users: dict) -> Project:
    director = users["director"]
    project = services.create_project(
        director, name=PROJECT_NAME, description=PROJECT_DESCRIPTION, fps=24, width=1280, height=720
    )
    owner = _membership(project, director)
    for demo in DEMO_USERS:
        if demo.role != Role.OWNER:
            services.add_member(owner, demo.username, demo.role)
    members = {name: _membership(project, user) for name, user in users.items()}

    presets = {spec["name"]: services.create_preset(owner, **spec) for spec in PRESETS}
    styles, sequences = {}, {}
    for order, (code, title, style) in enumerate(SEQUENCES, start=1):
        sequences[code] = services.create_sequence(owner, code=code, title=title, order=order * 10)
        styles[code] = style

    today = timezone.localdate()
    shots, looks, first_revisions = {}, {}, {}
    for index, plan in enumerate(SHOTS):
        assignee = users[plan.assignee] if plan.assignee else None
        # Due dates run through the next four weeks in shot order: day 2 to day 28.
        due = today + timedelta(days=2 + round(index * 26 / max(len(SHOTS) - 1, 1))) if assignee else None
        shot = services.create_shot(
            owner, sequence=sequences[plan.sequence], code=plan.full_code, title=" · ".join(plan.title),
            description=plan.description, order=int(plan.code.removeprefix("SH")), duration_s=Decimal(plan.seconds),
            assignee=assignee, due_date=due,
        )
        look = {"style": styles[plan.sequence], **plan.look}
        first_revisions[plan.full_code] = services.create_revision(
            owner, shot, prompt=compose_prompt(look), base=None, negative_prompt=plan.negative,
            params=_params(plan), presets=[presets[name] for name in plan.presets], note="初稿 first draft",
        )
        shots[plan.full_code], looks[plan.full_code] = shot, look

    plans = {plan.full_code: plan for plan in SHOTS}
    for code, author, body, after_refinement in COMMENTS:
        if not after_refinement:
            services.create_comment(members[author], shot=shots[code], body=body)
    for refinement in REFINEMENTS:
        base = first_revisions[refinement.shot]
        plan = plans[refinement.shot]
        services.create_revision(
            members[refinement.author], shots[refinement.shot],
            prompt=compose_prompt({**looks[refinement.shot], **refinement.look}), base=base,
            negative_prompt=base.negative_prompt, params=_params(plan),
            presets=[*base.presets.all(), *(presets[name] for name in refinement.presets)], note=refinement.note,
        )
    for plan in SHOTS:
        _advance_status(members, shots[plan.full_code], plan)
    for code, author, body, after_refinement in COMMENTS:
        if after_refinement:
            services.create_comment(members[author], shot=shots[code], body=body)
    project.refresh_from_db()
    return project


def _params(plan: ShotPlan) -> dict:
    """``motion`` is the local provider's camera move; ``camera`` says the same for people and other back ends."""
    return {"aspect": "16:9", "camera": CAMERA_MOVES[plan.motion], "motion": plan.motion}


def _advance_status(members: dict, shot, plan: ShotPlan) -> None:
    """The assignee moves the shot along as the team would: to do → in progress → in review."""
    steps = {
        ShotStatus.TODO: [],
        ShotStatus.IN_PROGRESS: [ShotStatus.IN_PROGRESS],
        ShotStatus.REVIEW: [ShotStatus.IN_PROGRESS, ShotStatus.REVIEW],
    }[plan.status]
    actor = members[plan.assignee or "director"]
    for status in steps:
        shot = services.update_shot(actor, shot.pk, shot.version, {"status": status})
