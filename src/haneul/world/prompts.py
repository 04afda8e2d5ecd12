"""Short prompts, as a person would type them, in English and Korean: `short_caption(spec, rng)`.

At least five templates per event; about one prompt in four is Korean. Templates use only vocabulary words
and a clause shape the parser reads back (tested: short caption -> parse_prompt -> same kinds, colours and
events). The background, camera and light are mentioned only sometimes, as people leave them out.
"""

from __future__ import annotations

import numpy as np

from haneul.world import vocab
from haneul.world.spec import ObjectSpec, SceneSpec

KOREAN_SHARE = 0.25

EN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "still": ("{o} stays still", "{o} sits still", "{o} rests", "{o} stands still", "{o} waits"),
    "move": (
        "{o} moves {d}",
        "{o} moving {d} {s}",
        "{o} slides {d}",
        "{o} glides {d} {s}",
        "{o} travels {d} {s}",
    ),
    "bounce": (
        "{o} bounces",
        "{o} bouncing",
        "{o} falls and bounces",
        "{o} is dropped and bounces",
        "{o} drops and bounces up and down",
    ),
    "roll": (
        "{o} rolls {d}",
        "{o} rolling {d}",
        "{o} rolls {d} {s}",
        "{o} rolls {s} {d}",
        "{o} rolling {d} {s}",
    ),
    "rotate": ("{o} spins", "{o} rotates {s}", "{o} spinning", "{o} turns", "{o} twirls {s}"),
    "grow": ("{o} grows", "{o} gets bigger", "{o} growing {s}", "{o} expands", "{o} inflates"),
    "shrink": ("{o} shrinks", "{o} gets smaller", "{o} shrinking {s}", "{o} contracts", "{o} deflates"),
    "collide": (
        "{o} collides with {t}",
        "{o} and {t} collide",
        "{o} crashes into {t}",
        "{o} bumps into {t}",
        "{o} hits {t}",
    ),
    "pass_behind": (
        "{o} passes behind {w}",
        "{o} goes behind {w} and comes out the other side",
        "{o} moves {d} behind {w}",
        "{o} hides behind {w}",
        "{o} disappears behind {w} and reappears",
    ),
    "follow": (
        "{o} follows it",
        "{o} chases it",
        "{o} following it",
        "{o} runs after it",
        "{o} trails it",
    ),  # after the leader's clause
    "enter": (
        "{o} enters from the {side}",
        "{o} comes in from the {side}",
        "{o} appears from the {side}",
        "{o} enters the frame from the {side}",
        "{o} arrives from the {side}",
    ),
    "exit": (
        "{o} leaves {d}",
        "{o} exits {d}",
        "{o} moves out {d}",
        "{o} leaves the frame {d}",
        "{o} goes out {d}",
    ),
}
KO_TEMPLATES: dict[str, tuple[str, ...]] = {
    "still": (
        "{o_i} 가만히 있다",
        "{o_i} 정지해 있다",
        "{o_i} 멈춰 있다",
        "{o_i} 놓여 있다",
        "{o_i} 가만히 서 있다",
    ),
    "move": (
        "{o_i} {d} 움직인다",
        "{o_i} {s} {d} 이동한다",
        "{o_i} {d} 미끄러진다",
        "{o_i} {d} {s} 움직인다",
        "{o_i} {d} 날아간다",
    ),
    "bounce": (
        "{o_i} 튄다",
        "{o_i} 통통 튄다",
        "{o_i} 떨어져서 튄다",
        "{o_i} 튀어 오른다",
        "{o_i} 낙하해서 튄다",
    ),
    "roll": (
        "{o_i} {d} 굴러간다",
        "{o_i} {s} {d} 굴러간다",
        "{o_i} {d} 구른다",
        "{o_i} {d} 굴러간다",
        "{o_i} {d} {s} 굴러간다",
    ),
    "rotate": (
        "{o_i} 회전한다",
        "{o_i} 빙글빙글 돈다",
        "{o_i} {s} 회전한다",
        "{o_i} 돌고 있다",
        "{o_i} {s} 돈다",
    ),
    "grow": ("{o_i} 커진다", "{o_i} 점점 커진다", "{o_i} {s} 커진다", "{o_i} 자란다", "{o_i} 팽창한다"),
    "shrink": (
        "{o_i} 작아진다",
        "{o_i} 점점 작아진다",
        "{o_i} {s} 작아진다",
        "{o_i} 줄어든다",
        "{o_i} 수축한다",
    ),
    "collide": (
        "{o_wa} {t_i} 부딪친다",
        "{o_i} {t_wa} 충돌한다",
        "{o_wa} {t_i} 충돌한다",
        "{o_i} {t_wa} 부딪힌다",
        "{o_wa} {t_i} 서로 부딪친다",
    ),
    "pass_behind": (
        "{o_i} {w} 뒤로 지나간다",
        "{o_i} {w} 뒤로 지나가서 나온다",
        "{o_i} {d} {w} 뒤로 지나간다",
        "{o_i} {w} 뒤를 지나간다",
        "{o_i} {w} 뒤에 숨었다가 나온다",
    ),
    "follow": (
        "{o_i} 따라간다",
        "{o_i} 쫓아간다",
        "{o_i} 뒤쫓는다",
        "{o_i} 따라온다",
        "{o_i} 쫓는다",
    ),  # after the leader's clause
    "enter": (
        "{o_i} {side}에서 들어온다",
        "{o_i} {side}에서 나타난다",
        "{o_i} {side}에서 등장한다",
        "{o_i} {side}에서 화면에 들어온다",
        "{o_i} {side}에서 들어와 멈춘다",
    ),
    "exit": (
        "{o_i} {d} 나간다",
        "{o_i} {d} 사라진다",
        "{o_i} {d} 화면을 벗어난다",
        "{o_i} {d} 나가 버린다",
        "{o_i} {d} 움직여 사라진다",
    ),
}
EN_BACKGROUND = {
    "white": "on a white background",
    "black": "on a black background",
    "sky": "in the sky",
    "grass": "on green grass",
    "sea": "on the sea",
    "night": "in the night sky",
    "sand": "on the sand",
    "snow": "in the snow",
    "wall": "in front of a brick wall",
}
KO_BACKGROUND = {
    "white": "흰 배경에서",
    "black": "검은 배경에서",
    "sky": "하늘에서",
    "grass": "잔디 위에서",
    "sea": "바다 위에서",
    "night": "밤하늘에서",
    "sand": "모래 위에서",
    "snow": "눈밭에서",
    "wall": "벽돌 벽 앞에서",
}
EN_CAMERA = {
    "pan_left": "as the camera pans left",
    "pan_right": "as the camera pans right",
    "pan_up": "as the camera pans up",
    "pan_down": "as the camera pans down",
    "zoom_in": "as the camera zooms in",
    "zoom_out": "as the camera zooms out",
}
KO_CAMERA = {
    "pan_left": "카메라가 왼쪽으로 패닝한다",
    "pan_right": "카메라가 오른쪽으로 패닝한다",
    "pan_up": "카메라가 위로 패닝한다",
    "pan_down": "카메라가 아래로 패닝한다",
    "zoom_in": "카메라가 줌인한다",
    "zoom_out": "카메라가 줌아웃한다",
}
EN_LIGHT = {"dusk": "at dusk", "night": "at night", "day_to_night": "as day turns to night"}
KO_LIGHT = {"dusk": "해질녘에", "night": "밤에", "day_to_night": "낮에서 밤으로 어두워진다"}
EN_SIDE = {
    "right": "left",
    "left": "right",
    "down": "top",
    "up": "bottom",
}  # enter moving right = from the left
KO_SIDE = {"right": "왼쪽", "left": "오른쪽", "down": "위쪽", "up": "아래쪽"}
EN_OCCLUDER = {"wall": "a wall", "tree": "a tree", "box": "a box"}
KO_OCCLUDER = {"wall": "벽", "tree": "나무", "box": "상자"}


def _has_final(word: str) -> bool:
    """True if a Korean word ends in a consonant (batchim): picks 이/가, 을/를, 와/과."""
    c = word[-1]
    return "가" <= c <= "힣" and (ord(c) - 0xAC00) % 28 != 0


def _josa(word: str, with_final: str, without: str) -> str:
    return word + (with_final if _has_final(word) else without)


def _en_object(o: ObjectSpec, rng: np.random.Generator) -> str:
    size = f"{vocab.SIZE_WORDS[o.size].en[0]} " if o.size and rng.random() < 0.3 else ""
    phrase = f"{size}{vocab.COLOUR_WORDS[o.colour].en[0]} {vocab.KINDS[o.kind].en[0]}"
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _ko_object(o: ObjectSpec, rng: np.random.Generator) -> str:
    size = f"{vocab.SIZE_WORDS[o.size].ko[0]} " if o.size in ("small", "large") and rng.random() < 0.3 else ""
    return f"{size}{vocab.COLOUR_WORDS[o.colour].ko[0]} {vocab.KINDS[o.kind].ko[0]}"


def short_caption(
    spec: SceneSpec, rng: np.random.Generator, korean: bool | None = None, still: bool = False
) -> str:
    """A short prompt for a complete spec (one clause per object; partners share their clause).

    `still`: the clip is a single image, so objects are named without events ("a red ball and a blue box").
    """
    if korean is None:
        korean = rng.random() < KOREAN_SHARE
    if still:
        names = [_ko_object(o, rng) if korean else _en_object(o, rng) for o in spec.objects]
        return (", " if korean else " and ").join(names) + _scene_words(spec, rng, korean)
    described: set[int] = set()
    clauses = []
    for i in _clause_order(spec):
        if i in described:
            continue
        o = spec.objects[i]
        clause = _ko_clause(spec, i, rng) if korean else _en_clause(spec, i, rng)
        described.add(i)
        if o.event == "collide":
            described.add(o.target)
        clauses.append(clause)
    text = (", " if korean else " and ").join(clauses)
    text += _scene_words(spec, rng, korean)
    return text


def _clause_order(spec: SceneSpec) -> list[int]:
    """Each leader's clause comes right before its followers' ("... and a blue star follows it")."""
    order: list[int] = []

    def visit(i: int) -> None:
        order.append(i)
        for j, q in enumerate(spec.objects):
            if q.event == "follow" and q.target == i and j not in order:
                visit(j)

    for i, o in enumerate(spec.objects):
        if i not in order and not (
            o.event == "follow" and o.target is not None and spec.objects[o.target].event != "follow"
        ):
            visit(i)
    for i in range(len(spec.objects)):  # follow cycles, if any
        if i not in order:
            visit(i)
    return order


def _en_clause(spec: SceneSpec, i: int, rng: np.random.Generator) -> str:
    o = spec.objects[i]
    template = EN_TEMPLATES[o.event][int(rng.integers(5))]
    fill = {
        "o": _en_object(o, rng),
        "d": vocab.DIRECTION_WORDS[o.direction].en[1 if o.direction in ("left", "right") else 0]
        if o.direction
        else "",
        "s": vocab.SPEED_WORDS[o.speed].en[0] if o.speed else "",
        "t": _en_object(spec.objects[o.target], rng) if o.target is not None else "",
        "w": EN_OCCLUDER.get(spec.occluder, ""),
        "side": EN_SIDE.get(o.direction, "left"),
    }
    return " ".join(template.format(**fill).split())


def _ko_clause(spec: SceneSpec, i: int, rng: np.random.Generator) -> str:
    o = spec.objects[i]
    template = KO_TEMPLATES[o.event][int(rng.integers(5))]
    obj = _ko_object(o, rng)
    target = _ko_object(spec.objects[o.target], rng) if o.target is not None else ""
    fill = {
        "o_i": _josa(obj, "이", "가"),
        "o_wa": _josa(obj, "과", "와"),
        "t_i": _josa(target, "이", "가") if target else "",
        "t_wa": _josa(target, "과", "와") if target else "",
        "t_ul": _josa(target, "을", "를") if target else "",
        "d": vocab.DIRECTION_WORDS[o.direction].ko[0] if o.direction else "",
        "s": vocab.SPEED_WORDS[o.speed].ko[0] if o.speed else "",
        "w": KO_OCCLUDER.get(spec.occluder, ""),
        "side": KO_SIDE.get(o.direction, "왼쪽"),
    }
    return " ".join(template.format(**fill).split())


def _scene_words(spec: SceneSpec, rng: np.random.Generator, korean: bool) -> str:
    out = ""
    if spec.background and rng.random() < 0.6:
        out += " " + (KO_BACKGROUND if korean else EN_BACKGROUND)[spec.background]
    if spec.light in EN_LIGHT and rng.random() < 0.7:
        out += " " + (KO_LIGHT if korean else EN_LIGHT)[spec.light]
    if spec.camera in EN_CAMERA and rng.random() < 0.7:
        out += (", " if korean else " ") + (KO_CAMERA if korean else EN_CAMERA)[spec.camera]
    return out
