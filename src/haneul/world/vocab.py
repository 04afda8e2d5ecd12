"""The procedural world's vocabulary: every kind, colour, size, background, event, direction, speed,
camera move and light it knows, with the English and Korean words a person may type for each.

This module is the contract shared by the generator (render, captions), the prompt parser and the world
benchmark (which segments objects by the RGB values in `COLOURS`). Names (the dict keys) are the canonical
values stored in a `SceneSpec` and in ground truth; the first English word of an entry is the one captions use.

Units: the world is measured in "units" of the frame's shorter side at zoom 1 (a 128x96 frame is 128/96 x 1
units), so a scene looks the same at every resolution and aspect ratio. Speeds are units per second.

Colour rules (why the values are what they are):
- The 12 object colours are far apart in CIE Lab (every pair differs by more than 39), so classical colour
  segmentation tells them apart, also under dusk and night light (which scale the channels, see `LIGHTS`).
- Objects are flat single-colour silhouettes (no outlines or shading), so a colour segmenter sees one colour.
- An object never takes a colour that clashes with its background's main colours or with the occluder's
  (Lab distance below `CLASH_DISTANCE`, see `clashes`): no green ball on green grass, no white ball on snow.
  Random scenes avoid clashes; a prompt asking for one raises InputError naming the allowed colours.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Words:
    """How people say one vocabulary item. `en`/`ko` are lower-case phrases; the first of each is canonical.

    Korean entries are stems: a token matches when it starts with the stem and the rest is a particle or a
    verb ending (parse.py), so "공이", "공을" and "공" all mean ball.
    """

    en: tuple[str, ...]
    ko: tuple[str, ...] = ()


# --- objects -------------------------------------------------------------------------------------------------

KINDS: dict[str, Words] = {
    "ball": Words(
        ("ball", "circle", "sphere", "disc", "disk", "balls", "circles", "spheres"), ("공", "원", "동그라미")
    ),
    "box": Words(
        ("box", "square", "cube", "block", "boxes", "squares", "cubes", "blocks"),
        ("상자", "네모", "사각형", "박스"),
    ),
    "triangle": Words(("triangle", "triangles"), ("삼각형", "세모")),
    "star": Words(("star", "stars"), ("별",)),
    "heart": Words(("heart", "hearts"), ("하트", "심장")),
    "ring": Words(
        ("ring", "donut", "doughnut", "hoop", "rings", "donuts", "hoops"), ("고리", "반지", "도넛", "링")
    ),
    "person": Words(
        (
            "person",
            "character",
            "figure",
            "man",
            "woman",
            "kid",
            "child",
            "people",
            "persons",
            "characters",
            "figures",
        ),
        ("사람", "캐릭터", "아이", "인형"),
    ),
    "car": Words(("car", "cars", "automobile", "vehicle"), ("자동차", "차")),
}

# RGB values, chosen far apart in Lab (see module docstring); the benchmark segments by these.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 40),
    "orange": (245, 135, 20),
    "yellow": (250, 220, 30),
    "green": (40, 170, 60),
    "blue": (30, 70, 210),
    "cyan": (40, 205, 215),
    "purple": (160, 40, 170),
    "pink": (250, 130, 200),
    "brown": (120, 70, 30),
    "black": (25, 25, 25),
    "white": (245, 245, 245),
    "gray": (135, 135, 135),
}

COLOUR_WORDS: dict[str, Words] = {
    "red": Words(("red", "crimson", "scarlet"), ("빨간", "빨강", "붉은", "빨간색")),
    "orange": Words(("orange",), ("주황", "주황색", "오렌지색")),
    "yellow": Words(("yellow", "golden"), ("노란", "노랑", "노란색")),
    "green": Words(("green",), ("초록", "초록색", "녹색", "초록빛")),
    "blue": Words(("blue", "navy"), ("파란", "파랑", "파란색", "푸른")),
    "cyan": Words(("cyan", "turquoise", "aqua"), ("청록", "청록색", "하늘색")),
    "purple": Words(("purple", "violet"), ("보라", "보라색", "보랏빛")),
    "pink": Words(("pink",), ("분홍", "분홍색", "핑크", "핑크색")),
    "brown": Words(("brown",), ("갈색",)),
    "black": Words(("black",), ("검은", "검정", "검은색", "까만", "검정색")),
    "white": Words(("white",), ("흰", "하얀", "흰색", "하얀색")),
    "gray": Words(("gray", "grey", "silver"), ("회색", "은색")),
}

# Half-extent of an object in units (a medium ball's radius is 0.11 of the frame's shorter side).
SIZES: dict[str, float] = {"small": 0.075, "medium": 0.11, "large": 0.16}

SIZE_WORDS: dict[str, Words] = {
    "small": Words(("small", "little", "tiny", "mini"), ("작은", "조그만", "작고")),
    "medium": Words(("medium", "medium-sized", "mid-sized", "normal-sized"), ("중간", "보통")),
    "large": Words(("large", "big", "huge", "giant"), ("큰", "커다란", "거대한", "크고")),
}

COUNT_WORDS: dict[int, Words] = {
    1: Words(("a", "an", "one"), ("한",)),
    2: Words(("two", "2", "a pair of"), ("두", "둘")),
    3: Words(("three", "3"), ("세", "셋")),
    4: Words(("four", "4"), ("네", "넷")),
}
MAX_OBJECTS = 4

# --- places --------------------------------------------------------------------------------------------------

# Horizon height (fraction of the view height from the top) of backgrounds with a ground; None = no ground drawn.
# Every scene has a floor at FLOOR_Y (fraction of the view height) for gravity and rolling.
FLOOR_Y = 0.9


@dataclass(frozen=True)
class Background:
    """A backdrop: its words, its main colours (what objects must not clash with) and its horizon."""

    words: Words
    colours: tuple[tuple[int, int, int], ...]
    horizon: float | None = None


BACKGROUNDS: dict[str, Background] = {
    "white": Background(
        Words(
            ("white background", "plain white background", "blank background", "plain background"),
            ("흰 배경", "하얀 배경", "흰색 배경"),
        ),
        ((238, 238, 232),),
    ),
    "black": Background(
        Words(
            ("black background", "dark background", "plain black background"),
            ("검은 배경", "까만 배경", "검정 배경", "검은색 배경"),
        ),
        ((22, 22, 26),),
    ),
    "sky": Background(
        Words(("sky", "blue sky", "clear sky", "the air"), ("하늘", "파란 하늘")),
        ((95, 155, 230), (185, 218, 250)),
    ),
    "grass": Background(
        Words(
            ("grass", "green grass", "lawn", "meadow", "field", "grassy field"),
            ("잔디", "풀밭", "초원", "잔디밭"),
        ),
        ((95, 155, 230), (185, 218, 250), (70, 140, 50), (50, 110, 40)),
        horizon=0.45,
    ),
    "sea": Background(
        Words(("sea", "ocean", "water", "the sea", "waves"), ("바다", "물", "해변 바다")),
        ((110, 165, 230), (195, 222, 248), (25, 95, 155), (15, 65, 120)),
        horizon=0.5,
    ),
    "night": Background(
        Words(
            ("night sky", "starry sky", "starry night", "stars at night", "space"), ("밤하늘", "별밤", "우주")
        ),
        ((10, 14, 40), (32, 38, 82)),
    ),
    "sand": Background(
        Words(("sand", "beach", "desert", "dunes", "sandy beach"), ("모래", "사막", "모래사장", "해변")),
        ((120, 175, 235), (195, 222, 248), (232, 205, 150), (212, 182, 122)),
        horizon=0.45,
    ),
    "snow": Background(
        Words(("snow", "snowfield", "snowy field", "snowy ground"), ("눈밭", "설원", "눈")),
        ((175, 200, 230), (215, 228, 242), (248, 250, 253), (222, 230, 240)),
        horizon=0.45,
    ),
    "wall": Background(
        Words(
            ("wall", "brick wall", "stone wall", "tiled wall", "textured wall"),
            ("벽", "벽돌 벽", "돌담", "벽돌"),
        ),
        ((196, 182, 160), (170, 156, 134), (150, 140, 125)),
    ),
}

# Occluders objects pass behind; drawn in front of every object. Keys are spec values (not object kinds).
OCCLUDERS: dict[str, Background] = {
    "wall": Background(Words(("wall", "pillar", "panel"), ("벽", "기둥")), ((70, 80, 98), (58, 66, 82))),
    "tree": Background(Words(("tree", "bush"), ("나무", "덤불")), ((96, 66, 40), (36, 96, 46))),
    "box": Background(
        Words(("box", "crate", "block"), ("상자", "나무 상자", "박스")), ((172, 128, 72), (140, 100, 55))
    ),
}

# --- motion --------------------------------------------------------------------------------------------------

# Unit vectors in image coordinates (x to the viewer's right, y down).
_D = 0.7071067811865476
DIRECTIONS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up_left": (-_D, -_D),
    "up_right": (_D, -_D),
    "down_left": (-_D, _D),
    "down_right": (_D, _D),
}

DIRECTION_WORDS: dict[str, Words] = {
    "left": Words(("left", "to the left", "leftward", "leftwards", "westward"), ("왼쪽으로", "좌측으로")),
    "right": Words(
        ("right", "to the right", "rightward", "rightwards", "eastward"), ("오른쪽으로", "우측으로")
    ),
    "up": Words(("up", "upward", "upwards", "straight up"), ("위로", "위쪽으로")),
    "down": Words(("down", "downward", "downwards", "straight down"), ("아래로", "아래쪽으로", "밑으로")),
    "up_left": Words(
        ("up and to the left", "up-left", "up left", "to the upper left", "diagonally up and left"),
        ("왼쪽 위로", "좌상단으로"),
    ),
    "up_right": Words(
        ("up and to the right", "up-right", "up right", "to the upper right", "diagonally up and right"),
        ("오른쪽 위로", "우상단으로"),
    ),
    "down_left": Words(
        ("down and to the left", "down-left", "down left", "to the lower left", "diagonally down and left"),
        ("왼쪽 아래로", "좌하단으로"),
    ),
    "down_right": Words(
        (
            "down and to the right",
            "down-right",
            "down right",
            "to the lower right",
            "diagonally down and right",
        ),
        ("오른쪽 아래로", "우하단으로"),
    ),
}

# Nominal speeds in units per second, and the thresholds captions use to name a measured speed.
SPEEDS: dict[str, float] = {"slow": 0.15, "medium": 0.32, "fast": 0.6}
SPEED_LIMITS: tuple[float, float] = (0.22, 0.45)  # below the first: slow; above the second: fast

SPEED_WORDS: dict[str, Words] = {
    "slow": Words(("slowly", "slow", "gently", "leisurely"), ("천천히", "느리게", "느릿느릿")),
    "medium": Words(
        ("steadily", "at a steady pace", "at medium speed", "normally"), ("적당히", "보통 속도로", "꾸준히")
    ),
    "fast": Words(
        ("quickly", "fast", "rapidly", "swiftly", "speedily"), ("빠르게", "빨리", "재빨리", "쌩쌩")
    ),
}

# Start positions in the view, as fractions of the view (x from the left, y from the top).
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (0.25, 0.5),
    "right": (0.75, 0.5),
    "top": (0.5, 0.25),
    "bottom": (0.5, 0.75),
    "centre": (0.5, 0.5),
    "top_left": (0.25, 0.25),
    "top_right": (0.75, 0.25),
    "bottom_left": (0.25, 0.75),
    "bottom_right": (0.75, 0.75),
}

POSITION_WORDS: dict[str, Words] = {
    "left": Words(
        ("on the left", "at the left", "on the left side", "from the left"), ("왼쪽에", "왼쪽에서", "좌측에")
    ),
    "right": Words(
        ("on the right", "at the right", "on the right side", "from the right"),
        ("오른쪽에", "오른쪽에서", "우측에"),
    ),
    "top": Words(
        ("at the top", "on top", "near the top", "from above", "from the top"), ("위쪽에", "위쪽에서")
    ),
    "bottom": Words(
        ("at the bottom", "near the bottom", "from below", "from the bottom"), ("아래쪽에", "아래쪽에서")
    ),
    "centre": Words(("in the centre", "in the center", "in the middle"), ("가운데에", "가운데", "중앙에")),
    "top_left": Words(("in the top left", "at the top left", "in the upper left"), ("왼쪽 위에",)),
    "top_right": Words(("in the top right", "at the top right", "in the upper right"), ("오른쪽 위에",)),
    "bottom_left": Words(("in the bottom left", "at the bottom left", "in the lower left"), ("왼쪽 아래에",)),
    "bottom_right": Words(
        ("in the bottom right", "at the bottom right", "in the lower right"), ("오른쪽 아래에",)
    ),
}

# Spatial relations between two objects' start positions ("a is left_of b"), viewer's left and right.
# Korean has only left/right here: "위에" also means "on" ("잔디 위에서"), so it is not read as "above".
RELATION_WORDS: dict[str, Words] = {
    "left_of": Words(("to the left of", "left of", "on the left of"), ("왼쪽에",)),
    "right_of": Words(("to the right of", "right of", "on the right of"), ("오른쪽에",)),
    "above": Words(("above", "over"), ()),
    "below": Words(("below", "under", "beneath", "underneath"), ()),
}

# Per-object events. `needs_target`: the event names another object (collide with it, follow it).
# `takes_direction`: the event has a direction (move, roll, enter, exit, pass_behind; others ignore it).
EVENTS: dict[str, Words] = {
    "still": Words(
        ("stays still", "rests", "sits", "stands", "is still", "still", "stays", "waits"),
        ("가만히", "정지", "멈춰", "서 있", "놓여"),
    ),
    "move": Words(
        (
            "moves",
            "move",
            "moving",
            "slides",
            "sliding",
            "glides",
            "gliding",
            "drifts",
            "drifting",
            "travels",
            "flies",
            "flying",
            "floats",
            "goes",
            "going",
            "runs",
            "drives",
            "walks",
            "walking",
            "driving",
        ),
        ("움직", "이동", "미끄러", "날아", "달려", "걸어", "간다", "가고", "가는"),
    ),
    "bounce": Words(
        (
            "bounces",
            "bounce",
            "bouncing",
            "falls",
            "fall",
            "falling",
            "drops",
            "drop",
            "dropping",
            "is dropped",
            "hops",
            "bounces up and down",
        ),
        ("튀", "튄", "떨어", "통통", "낙하"),
    ),
    "roll": Words(("rolls", "roll", "rolling"), ("굴러", "구르", "구른", "굴러간")),
    "rotate": Words(
        ("rotates", "rotate", "rotating", "spins", "spin", "spinning", "turns", "turning", "twirls"),
        ("회전", "돈다", "돌고", "돌아", "빙글"),
    ),
    "grow": Words(
        ("grows", "grow", "growing", "gets bigger", "expands", "expanding", "inflates", "swells"),
        ("커진", "커지", "자란", "자라", "팽창"),
    ),
    "shrink": Words(
        ("shrinks", "shrink", "shrinking", "gets smaller", "contracts", "deflates"), ("작아", "줄어", "수축")
    ),
    "collide": Words(
        (
            "collides with",
            "collide",
            "collides",
            "colliding",
            "crashes into",
            "crash",
            "bumps into",
            "hits",
            "crashing",
        ),
        ("부딪", "충돌"),
    ),
    "pass_behind": Words(
        (
            "passes behind",
            "goes behind",
            "moves behind",
            "disappears behind",
            "hides behind",
            "passing behind",
            "behind",
        ),
        ("뒤로", "뒤를", "뒤에", "지나", "숨"),
    ),
    "follow": Words(
        ("follows", "follow", "following", "chases", "chasing", "trails", "runs after", "goes after"),
        ("따라", "쫓", "뒤쫓"),
    ),
    "enter": Words(
        (
            "enters",
            "enter",
            "entering",
            "comes in",
            "appears",
            "arrives",
            "comes into view",
            "enters the frame",
        ),
        ("들어", "나타", "등장"),
    ),
    "exit": Words(
        (
            "leaves",
            "exits",
            "leave",
            "leaving",
            "exiting",
            "goes out",
            "disappears",
            "leaves the frame",
            "moves out",
        ),
        ("나간", "나가", "사라", "벗어"),
    ),
}
NEEDS_TARGET = ("collide", "follow")
TAKES_DIRECTION = ("move", "roll", "enter", "exit", "pass_behind")

CAMERA_MOVES: dict[str, Words] = {
    "static": Words(
        (
            "static camera",
            "still camera",
            "fixed camera",
            "locked camera",
            "the camera stays still",
            "camera is still",
        ),
        ("고정 카메라", "카메라 고정", "카메라 고정된"),
    ),
    "pan_left": Words(
        (
            "camera pans left",
            "pan left",
            "pans left",
            "panning left",
            "camera pans to the left",
            "camera moves left",
        ),
        ("카메라 왼쪽으로", "왼쪽으로 패닝"),
    ),
    "pan_right": Words(
        (
            "camera pans right",
            "pan right",
            "pans right",
            "panning right",
            "camera pans to the right",
            "camera moves right",
        ),
        ("카메라 오른쪽으로", "오른쪽으로 패닝"),
    ),
    "pan_up": Words(
        ("camera pans up", "pan up", "pans up", "tilts up", "camera tilts up", "camera moves up"),
        ("카메라 위로", "위로 패닝"),
    ),
    "pan_down": Words(
        ("camera pans down", "pan down", "pans down", "tilts down", "camera tilts down", "camera moves down"),
        ("카메라 아래로", "아래로 패닝"),
    ),
    "zoom_in": Words(
        ("camera zooms in", "zoom in", "zooms in", "zooming in", "camera pushes in", "close up"),
        ("줌인", "확대", "줌 인", "카메라 줌인", "카메라 확대"),
    ),
    "zoom_out": Words(
        ("camera zooms out", "zoom out", "zooms out", "zooming out", "camera pulls back", "pulls back"),
        ("줌아웃", "축소", "줌 아웃", "카메라 줌아웃", "카메라 축소"),
    ),
}
# Camera speed: a pan moves the view this many units per second; a zoom goes from 1 to ZOOM_END (or back).
PAN_SPEED = 0.2
ZOOM_END = 1.5


@dataclass(frozen=True)
class Light:
    """A light: its words, and the RGB gain at the clip's start and end (linear in between, via dusk)."""

    words: Words
    start: tuple[float, float, float]
    end: tuple[float, float, float]


_DAY = (1.0, 1.0, 1.0)
_DUSK = (1.0, 0.78, 0.62)
_NIGHT = (0.5, 0.55, 0.78)
LIGHTS: dict[str, Light] = {
    "day": Light(
        Words(
            ("daytime", "day", "daylight", "sunny", "bright daylight", "during the day"),
            ("낮", "낮에", "한낮", "햇빛"),
        ),
        _DAY,
        _DAY,
    ),
    "dusk": Light(
        Words(
            ("dusk", "sunset", "evening", "twilight", "at dusk", "at sunset"),
            ("해질녘", "저녁", "노을", "황혼"),
        ),
        _DUSK,
        _DUSK,
    ),
    "night": Light(
        Words(("at night", "night", "nighttime", "in the dark", "dark"), ("밤에", "밤", "한밤", "어둠")),
        _NIGHT,
        _NIGHT,
    ),
    "day_to_night": Light(
        Words(
            (
                "day turns to night",
                "it gets dark",
                "gets dark",
                "from day to night",
                "the sun sets",
                "day to night",
                "darkens",
            ),
            ("어두워", "낮에서 밤으로", "해가 진", "해가 지"),
        ),
        _DAY,
        _NIGHT,
    ),
}
LIGHT_CHANGES = ("day_to_night",)

# --- colour clash rule ---------------------------------------------------------------------------------------

CLASH_DISTANCE = 32.0  # CIE Lab distance under which an object colour is too close to a background colour


def rgb_to_lab(rgb: tuple[int, int, int] | np.ndarray) -> np.ndarray:
    """sRGB (0..255) to CIE Lab (L 0..100), D65; plain numpy so it matches any implementation of the formula."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = (m @ c[..., None])[..., 0] / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1
    )


def colour_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b)))


@functools.cache
def clashes(colour: str, background: str | None = None, occluder: str | None = None) -> bool:
    """True if the object colour is too close to a main colour of the background or the occluder."""
    others = []
    if background is not None:
        others += BACKGROUNDS[background].colours
    if occluder is not None:
        others += OCCLUDERS[occluder].colours
    return any(colour_distance(COLOURS[colour], c) < CLASH_DISTANCE for c in others)


def allowed_colours(background: str | None = None, occluder: str | None = None) -> list[str]:
    """Object colours that stand out on this background and against this occluder."""
    return [c for c in COLOURS if not clashes(c, background, occluder)]


# Korean verbs are matched by stem ("움직" matches 움직인다, 움직이는); these are the forms shown to people.
KO_EXAMPLES = {
    "still": "가만히 있다",
    "move": "움직인다",
    "bounce": "튄다",
    "roll": "굴러간다",
    "rotate": "회전한다",
    "grow": "커진다",
    "shrink": "작아진다",
    "collide": "부딪친다",
    "pass_behind": "뒤로 지나간다",
    "follow": "따라간다",
    "enter": "들어온다",
    "exit": "나간다",
    "pan_left": "카메라가 왼쪽으로",
    "pan_right": "카메라가 오른쪽으로",
    "pan_up": "카메라가 위로",
    "pan_down": "카메라가 아래로",
    "day_to_night": "어두워진다",
}


def vocabulary_text() -> str:
    """The whole vocabulary on a few lines, for error messages and `--help`."""
    rows = [
        ("kinds", KINDS),
        ("colours", COLOUR_WORDS),
        ("sizes", SIZE_WORDS),
        ("backgrounds", {k: v.words for k, v in BACKGROUNDS.items()}),
        ("events", EVENTS),
        ("directions", DIRECTION_WORDS),
        ("speeds", SPEED_WORDS),
        ("camera", CAMERA_MOVES),
        ("light", {k: v.words for k, v in LIGHTS.items()}),
        ("occluders", {k: v.words for k, v in OCCLUDERS.items()}),
    ]
    lines = []
    for title, table in rows:
        items = ", ".join(
            f"{w.en[0]} ({KO_EXAMPLES.get(k, w.ko[0])})" if w.ko else w.en[0] for k, w in table.items()
        )
        lines.append(f"  {title}: {items}")
    return "\n".join(lines)
