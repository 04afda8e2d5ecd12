"""The standard prompt set of the world benchmark, generated from the world's vocabulary (deterministic).

    python -m haneul.eval.prompt_set            # rewrites src/haneul/eval/prompts/world_standard.jsonl

Each line: id, prompt, seed, width, height, seconds, fps, lang, group (what it was written to test) and
targets (the dimensions its wording lets the benchmark score, from the world's own parser). Groups cycle
through kinds, colours, backgrounds, directions, occluders and sizes so every value appears; about one
prompt in six is Korean. Travel and occluder prompts state a still camera (see `standard_prompts`). Most clips are 128x128 (the bundled model's size), every tenth landscape 160x96
and every tenth portrait 96x160; all are 4 s at 8 fps. Every prompt is checked: it parses, it renders,
and its targets include the group's dimension.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from haneul.eval.expected import stated_dimensions
from haneul.world import parse_prompt, vocab

STANDARD_SET = Path(__file__).parent / "prompts" / "world_standard.jsonl"
SECONDS, FPS = 4.0, 8.0

KINDS = list(vocab.KINDS)
BACKGROUNDS = list(vocab.BACKGROUNDS)
EN_BG = {
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
KO_BG = {
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
EN_DIR = {
    "left": "to the left",
    "right": "to the right",
    "up": "upward",
    "down": "downward",
    "up_left": "up and to the left",
    "up_right": "up and to the right",
    "down_left": "down and to the left",
    "down_right": "down and to the right",
}
EN_STILL_EVENTS = ("stays still", "spins", "grows", "shrinks", "rotates slowly", "sits")
KO_STILL_EVENTS = ("가만히 있다", "회전한다", "커진다", "작아진다")
EN_RELATIONS = {
    "left_of": "to the left of",
    "right_of": "to the right of",
    "above": "above",
    "below": "below",
}
EN_CAMERA = {
    "pan_left": "as the camera pans left",
    "pan_right": "as the camera pans right",
    "pan_up": "as the camera pans up",
    "pan_down": "as the camera pans down",
    "zoom_in": "as the camera zooms in",
    "zoom_out": "as the camera zooms out",
}
EN_LIGHT = {"dusk": "at dusk", "night": "at night", "day_to_night": "as day turns to night"}
COUNT_EN = {2: "two", 3: "three", 4: "four"}
PLURAL = {"box": "boxes", "person": "people"}


def _en(colour: str, kind: str) -> str:
    return f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {kind}"


def _ko(colour: str, kind: str, particle: tuple[str, str] = ("이", "가")) -> str:
    word = vocab.KINDS[kind].ko[0]
    last = word[-1]
    final = "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 != 0
    return f"{vocab.COLOUR_WORDS[colour].ko[0]} {word}{particle[0] if final else particle[1]}"


def _colours(background: str | None = None, occluder: str | None = None) -> Iterator[str]:
    return itertools.cycle(vocab.allowed_colours(background, occluder))


# --- groups: each yields (group, prompt, lang) ------------------------------------------------------------


def looks() -> Iterator[tuple[str, str, str]]:
    """Colour, kind and backdrop of one object that stays in place."""
    for i in range(48):
        kind, bg = KINDS[i % 8], BACKGROUNDS[i % 9]
        colour = vocab.allowed_colours(bg)[(i * 5) % len(vocab.allowed_colours(bg))]
        if i % 6 == 5:
            yield "looks", f"{_ko(colour, kind)} {KO_BG[bg]} {KO_STILL_EVENTS[i % 4]}", "ko"
        else:
            yield "looks", f"{_en(colour, kind)} {EN_STILL_EVENTS[i % 6]} {EN_BG[bg]}", "en"


def counts() -> Iterator[tuple[str, str, str]]:
    """Several objects: n of one kind, or a list of different ones."""
    for i in range(16):
        bg = BACKGROUNDS[(i * 2) % 9]
        colours = _colours(bg)
        for _ in range(i):
            next(colours)
        n = 2 + i % 3
        if i % 2 == 0:
            kind = KINDS[i % 8]
            yield "count", f"{COUNT_EN[n]} {next(colours)} {PLURAL.get(kind, kind + 's')} {EN_BG[bg]}", "en"
        else:
            objs = [_en(next(colours), KINDS[(i + k * 3) % 8]) for k in range(n)]
            yield "count", f"{', '.join(objs[:-1])} and {objs[-1]} {EN_BG[bg]}", "en"


def relations() -> Iterator[tuple[str, str, str]]:
    """Two objects in a stated relation, both kept in place (still, spinning, shrinking): the relation is
    about where they are, and an open event could otherwise carry one across the other."""
    keep = ("still", "spinning", "shrinking", "still", "spinning slowly")
    for i in range(24):
        rel = list(EN_RELATIONS)[i % 4]
        bg = BACKGROUNDS[(i + 3) % 9]
        colours = _colours(bg)
        for _ in range(i):
            next(colours)
        a, b = (next(colours), KINDS[i % 8]), (next(colours), KINDS[(i + 3) % 8])
        if i % 6 == 5 and rel in ("left_of", "right_of"):
            side = "왼쪽에" if rel == "left_of" else "오른쪽에"
            a_ko = f"{vocab.COLOUR_WORDS[a[0]].ko[0]} {vocab.KINDS[a[1]].ko[0]}"
            yield "relation", f"{a_ko} {side} {_ko(*b)} 가만히 있다", "ko"
        else:
            yield (
                "relation",
                f"{_en(*a)} {EN_RELATIONS[rel]} {_en(*b)}, both {keep[i % 5]}, {EN_BG[bg]}",
                "en",
            )


def directions() -> Iterator[tuple[str, str, str]]:
    """Travel: move in 8 directions at 3 speeds, roll, enter, exit, collide, follow."""
    colours = _colours()
    speeds = itertools.cycle(("slowly", "steadily", "quickly"))
    dirs = list(vocab.DIRECTIONS)
    for i in range(16):
        c, k, d = next(colours), KINDS[(i * 3) % 8], dirs[i % 8]
        if i % 5 == 4:
            ko_dir = vocab.DIRECTION_WORDS[d].ko[0]
            yield "direction", f"{_ko(c, k)} {ko_dir} 움직인다", "ko"
        else:
            yield "direction", f"{_en(c, k)} moves {EN_DIR[d]} {next(speeds)}", "en"
    for i in range(6):
        k, d = ("ball", "ring", "car")[i % 3], ("left", "right")[i % 2]
        yield (
            "direction",
            f"{_en(next(colours), k)} rolls {EN_DIR[d]} {EN_BG[('grass', 'sand', 'snow')[i % 3]]}",
            "en",
        )
    for i, side in enumerate(("left", "right", "left", "right")):
        yield "direction", f"{_en(next(colours), KINDS[i + 2])} enters from the {side}", "en"
    for i, d in enumerate(("right", "left", "right", "left")):
        yield "direction", f"{_en(next(colours), KINDS[i + 4])} leaves {EN_DIR[d]}", "en"
    for i in range(6):
        a, b = _en(next(colours), KINDS[i % 8]), _en(next(colours), KINDS[(i + 1) % 8])
        yield "direction", f"{a} collides with {b}", "en"
    for i in range(4):
        a, b = _en(next(colours), KINDS[(i + 2) % 8]), _en(next(colours), KINDS[(i + 5) % 8])
        yield "direction", f"{a} moves {EN_DIR[('right', 'left')[i % 2]]} and {b} follows it", "en"


def gravity() -> Iterator[tuple[str, str, str]]:
    phrases = ("bounces", "falls and bounces", "is dropped and bounces", "drops", "bounces up and down")
    for i in range(24):
        kind, bg = KINDS[(i * 3) % 8], BACKGROUNDS[(i * 4) % 9]
        colour = vocab.allowed_colours(bg)[(i * 7) % len(vocab.allowed_colours(bg))]
        if i % 6 == 5:
            yield "gravity", f"{_ko(colour, kind)} {KO_BG[bg]} 튄다", "ko"
        else:
            light = f" {EN_LIGHT['day_to_night']}" if i % 8 == 3 else ""
            yield "gravity", f"{_en(colour, kind)} {phrases[i % 5]} {EN_BG[bg]}{light}", "en"


def permanence() -> Iterator[tuple[str, str, str]]:
    occluders = list(vocab.OCCLUDERS)
    for i in range(24):
        occ, kind = occluders[i % 3], KINDS[(i * 5) % 8]
        bg = ("grass", "sand", "white", "sky", "snow", "sea", "black", "night")[i % 8]
        allowed = vocab.allowed_colours(bg, occ)
        colour = allowed[(i * 3) % len(allowed)]
        if i % 6 == 5:
            ko_occ = {"wall": "벽", "tree": "나무", "box": "상자"}[occ]
            yield "permanence", f"{_ko(colour, kind)} {ko_occ} 뒤로 지나간다", "ko"
        elif i % 2:
            yield (
                "permanence",
                f"{_en(colour, kind)} moves {EN_DIR[('left', 'right')[i % 4 // 2]]} behind a {occ} {EN_BG[bg]}",
                "en",
            )
        else:
            yield "permanence", f"{_en(colour, kind)} passes behind a {occ} {EN_BG[bg]}", "en"


def camera_and_light() -> Iterator[tuple[str, str, str]]:
    """Temporal consistency under camera moves and changing light."""
    colours = _colours("grass")
    cams = list(EN_CAMERA)
    for i in range(24):
        kind = KINDS[(i * 3 + 1) % 8]
        what = f"{_en(next(colours), kind)} moves {EN_DIR[('left', 'right')[i % 2]]}"
        if i < 12:
            yield "temporal", f"{what} on green grass {EN_CAMERA[cams[i % 6]]}", "en"
        else:
            yield "temporal", f"{what} on green grass {EN_LIGHT[list(EN_LIGHT)[i % 3]]}", "en"


def korean() -> Iterator[tuple[str, str, str]]:
    """More Korean: travel, collisions, bounces and occluders with backdrops."""
    colours = _colours("grass")
    for i in range(12):
        c, k = next(colours), KINDS[(i * 3 + 2) % 8]
        d = ("왼쪽으로", "오른쪽으로")[i % 2]
        if i % 4 == 0:
            yield "direction", f"{_ko(c, 'ball')} 잔디 위에서 {d} 굴러간다", "ko"
        elif i % 4 == 1:
            yield (
                "direction",
                f"{_ko(c, k, ('과', '와'))} {_ko(next(colours), KINDS[(i + 1) % 8])} 부딪친다",
                "ko",
            )
        elif i % 4 == 2:
            yield "gravity", f"{_ko(c, k)} 잔디 위에서 떨어져서 튄다", "ko"
        else:
            yield "permanence", f"{_ko(c, k)} 나무 뒤로 지나간다", "ko"


GROUPS = (looks, counts, relations, directions, gravity, permanence, camera_and_light, korean)
GROUP_DIMENSION = {
    "looks": "colour",
    "count": "count",
    "relation": "relation",
    "direction": "direction",
    "gravity": "gravity",
    "permanence": "permanence",
    "temporal": "temporal",
}


def standard_prompts() -> list[dict]:
    rows = []
    for i, (group, prompt, lang) in enumerate(p for g in GROUPS for p in g()):
        if group in ("direction", "permanence"):
            # A still camera, said: a pan the prompt leaves open could carry the view faster than the
            # object, and on a plain backdrop a stated "left" would then be seen going right.
            prompt += ", " + (
                "고정 카메라" if lang == "ko" else ("static camera", "still camera", "fixed camera")[i % 3]
            )
        width, height = (160, 96) if i % 10 == 7 else (96, 160) if i % 10 == 8 else (128, 128)
        targets = stated_dimensions(parse_prompt(prompt))
        if GROUP_DIMENSION[group] not in targets:
            raise ValueError(f"prompt {prompt!r} ({group}) does not state its {GROUP_DIMENSION[group]}")
        rows.append(
            {
                "id": f"w{i:03d}",
                "prompt": prompt,
                "seed": _renderable_seed(prompt, width, height, 1000 + i),
                "width": width,
                "height": height,
                "seconds": SECONDS,
                "fps": FPS,
                "lang": lang,
                "group": group,
                "targets": targets,
            }
        )
    return rows


def _renderable_seed(prompt: str, width: int, height: int, seed: int) -> int:
    """The first seed from `seed` on (steps of 10000) for which the world can make the scene: an open event
    may be completed into one the stated colours cannot show (passing behind an occluder that clashes)."""
    from haneul.errors import InputError
    from haneul.world import render_clip

    for attempt in range(10):
        try:
            render_clip(prompt, width, height, 2, FPS, seed + 10000 * attempt)
            return seed + 10000 * attempt
        except InputError:
            continue
    raise ValueError(f"the world cannot render {prompt!r}")


def load_prompts(path: str | Path = STANDARD_SET) -> list[dict]:
    """Prompt rows from a JSONL (the standard set by default); plain text files give one prompt a line."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".jsonl":
        return [
            {"id": f"p{i:03d}", "prompt": line.strip(), "seed": i}
            for i, line in enumerate(text.splitlines())
            if line.strip()
        ]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main() -> None:
    rows = standard_prompts()
    STANDARD_SET.parent.mkdir(exist_ok=True)
    STANDARD_SET.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} prompts to {STANDARD_SET}")


if __name__ == "__main__":
    main()
