"""`parse_prompt`: an English or Korean prompt in the world's vocabulary -> `SceneSpec`.

A small phrase grammar, not a language model. The prompt is split into tokens; at each token the longest
vocabulary phrase that matches wins (so "to the left of" beats "to the left", "night sky" beats "night").
English words match exactly; a Korean phrase's words match as stems followed by a particle ("공이", "공을")
or, for verbs, by any ending ("튄다", "튀어 오른다"). Then:

- colour, size and count words wait for the next kind word, which creates that many objects;
- an event word applies to the objects named since the previous event (or to that event's objects);
  "collide" and "follow" take the next object named as their target (in Korean, the one marked 을/를);
- direction, speed and position words apply to the same objects; a direction alone implies "move";
- "to the left of" (Korean "왼쪽에" between two objects) relates the objects on either side;
- background, camera and light words set the scene; after "behind", "wall/tree/box" is the occluder.

Anything not said stays None for `complete_spec`. A content word outside the vocabulary raises InputError
listing the vocabulary, so a prompt is never silently half-understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from haneul.errors import InputError
from haneul.world import vocab
from haneul.world.spec import ObjectSpec, Relation, SceneSpec

EN_STOPWORDS = frozenset(
    "the on in at of with and is are to into onto across from through by its it then while which that there "
    "some very as around along toward towards against inside within frame scene video clip shot animation "
    "picture image view screen each other another one's their they them this these out again after before "
    "where when front comes emerges reappears other side back over here himself itself together also "
    "both show shows showing just keeps keep continues slightly gradually ground floor bottom edge".split()
)
# Korean tokens that carry no content here (copulas, "on top of" as location, counters, connectives).
KO_STOPWORDS = frozenset(
    "있다 있는 있고 있어요 있습니다 위에서 위에 위를 위 아래에서 에서 장면 영상 화면 그리고 하고 개 개의 개가 개를 "
    "한다 합니다 하는 함께 서로 다시 나온다 나와 나오고 크기 크기의 패닝 패닝한다 패닝하고 패닝하며 반대편으로 반대쪽으로 속에서 속 안에서 앞에서 앞 사이로 곳에서 "
    "모습 모습이 동안 점점 계속 그 이 저 바닥 바닥에 바닥에서 바닥을 화면에 화면을 화면에서 버린다 오른다 올라 멈춘다 그것을 그걸".split()
)
# Particles and copulas a Korean noun or adjective may carry after its stem.
KO_PARTICLES = frozenset(
    "이 가 은 는 을 를 의 에 에서 로 으로 와 과 도 만 랑 이랑 하고 색 색의 색이 색을 빛 빛의 처럼 까지 부터 쪽 쪽으로 "
    "에는 에서는 이다 입니다 인 한 하게 히 게 고 서".split()
) | {""}


@dataclass(frozen=True)
class _Entry:
    words: tuple[str, ...]
    category: str  # kind, colour, size, count, background, occluder, event, direction, speed, position, relation, camera, light, filler
    value: object
    korean: bool


def _entries() -> list[_Entry]:
    tables = [
        ("kind", vocab.KINDS),
        ("colour", vocab.COLOUR_WORDS),
        ("size", vocab.SIZE_WORDS),
        ("count", vocab.COUNT_WORDS),
        ("background", {k: v.words for k, v in vocab.BACKGROUNDS.items()}),
        ("occluder", {k: v.words for k, v in vocab.OCCLUDERS.items()}),
        ("event", vocab.EVENTS),
        ("direction", vocab.DIRECTION_WORDS),
        ("speed", vocab.SPEED_WORDS),
        ("position", vocab.POSITION_WORDS),
        ("relation", vocab.RELATION_WORDS),
        ("camera", vocab.CAMERA_MOVES),
        ("light", {k: v.words for k, v in vocab.LIGHTS.items()}),
    ]
    out = []
    for category, table in tables:
        for value, words in table.items():
            out += [_Entry(tuple(p.split()), category, value, False) for p in words.en]
            out += [_Entry(tuple(p.split()), category, value, True) for p in words.ko]
    # Phrases that may appear but add nothing the events do not already say.
    for p in (
        "comes out",
        "out the other side",
        "the other side",
        "comes out the other side",
        "reappears",
        "emerges",
    ):
        out.append(_Entry(tuple(p.split()), "filler", None, False))
    return out


ENTRIES = _entries()


def _ko_match(stem: str, token: str, category: str) -> str | None:
    """The particle after `stem` in `token`, or None if the token is not this word."""
    if not token.startswith(stem):
        return None
    rest = token[len(stem) :]
    if category in ("event", "light", "camera") or rest in KO_PARTICLES:  # verbs take any ending: 튄다, 튀어
        return rest
    return None


def _match(tokens: list[str], i: int, expect_occluder: bool) -> tuple[_Entry, int, str] | None:
    """The best entry starting at token i: (entry, tokens used, Korean particle of the last token)."""
    best, best_key = None, None
    for e in ENTRIES:
        n = len(e.words)
        if i + n > len(tokens) or (e.category == "occluder" and not expect_occluder):
            continue
        particle = ""
        ok = True
        for w, t in zip(e.words, tokens[i : i + n], strict=True):
            if e.korean:
                p = _ko_match(w, t, e.category)
                ok = p is not None
                particle = p or ""
            else:
                ok = w == t
            if not ok:
                break
        if not ok:
            continue
        key = (e.category == "occluder", n, sum(len(w) for w in e.words))
        if best_key is None or key > best_key:
            best, best_key = (e, n, particle), key
    return best


def tokenize(text: str) -> list[str]:
    return re.sub(r"[,.!?;:\"'()\[\]]", " ", text.lower()).split()


class _Parser:
    def __init__(self) -> None:
        self.spec = SceneSpec()
        self.pending: dict = {}  # colour, size, count waiting for a kind word
        self.fresh: list[int] = []  # objects named since the last event
        self.last_subjects: list[int] = []  # objects of the last event
        self.wants_target: list[int] = []  # collide/follow subjects waiting for their target
        self.pending_relation: tuple[int, str] | None = None
        self.object_particle: dict[int, str] = {}
        self.expect_occluder = False
        self.last_category = ""
        self.last_group: list[int] = []  # the objects the last kind word named

    def repeat_last(self, count: int) -> None:
        """Make the last named object `count` objects (Korean puts the count after the noun)."""
        last = self.spec.objects[-1]
        if len(self.spec.objects) + count - 1 > vocab.MAX_OBJECTS:
            raise InputError(f"too many objects; the world shows 1 to {vocab.MAX_OBJECTS}")
        for _ in range(count - 1):
            self.spec.objects.append(ObjectSpec(kind=last.kind, colour=last.colour, size=last.size))
            self.fresh.append(len(self.spec.objects) - 1)

    @property
    def current(self) -> list[int]:
        return self.fresh or self.last_subjects

    def add_objects(self, kind: str, particle: str) -> None:
        count = self.pending.pop("count", 1)
        if len(self.spec.objects) + count > vocab.MAX_OBJECTS:
            raise InputError(f"too many objects; the world shows 1 to {vocab.MAX_OBJECTS}")
        new = []
        for _ in range(count):
            self.spec.objects.append(
                ObjectSpec(
                    kind=kind,
                    colour=self.pending.get("colour"),
                    size=self.pending.get("size"),
                    position=self.pending.get("position"),
                )
            )
            new.append(len(self.spec.objects) - 1)
            self.object_particle[new[-1]] = particle
        self.pending.clear()
        if self.pending_relation is not None:
            a, rel = self.pending_relation
            self.spec.relations.append(Relation(a, rel, new[0]))
            self.pending_relation = None
        if self.wants_target:
            for s in self.wants_target:
                self.spec.objects[s].target = new[0]
                if self.spec.objects[s].event == "collide":
                    self.spec.objects[new[0]].event = "collide"
                    self.spec.objects[new[0]].target = s
            self.wants_target = []
            if self.spec.objects[new[0]].event == "collide":
                return  # its role is set; the next event belongs to the objects named after it
        self.last_group = new
        self.fresh += new

    def set_event(self, event: str) -> None:
        subjects = self.current
        if not subjects:
            raise InputError(
                f"the event {vocab.EVENTS[event].en[0]!r} has no object before it; say what moves"
            )
        if event == "follow" and len(subjects) > 1:
            # Korean: "별이 공을 따라간다" names both before the verb; the one marked 을/를 is followed.
            marked = [i for i in subjects if self.object_particle.get(i) in ("을", "를")]
            leader = marked[0] if marked else subjects[-1]
            for i in subjects:
                if i != leader:
                    self.spec.objects[i].event, self.spec.objects[i].target = "follow", leader
            subjects = [i for i in subjects if i != leader]
        elif event == "collide" and len(subjects) > 1:
            for k, i in enumerate(subjects):
                self.spec.objects[i].event = "collide"
                pair = k + 1 if k % 2 == 0 else k - 1  # (0, 1), (2, 3); an odd one out waits for a partner
                self.spec.objects[i].target = subjects[pair] if pair < len(subjects) else None
        else:
            for i in subjects:
                self.spec.objects[i].event = event
            if event in vocab.NEEDS_TARGET:
                self.wants_target = list(subjects)
        self.expect_occluder = event == "pass_behind" and self.spec.occluder is None  # Korean names it first
        self.last_subjects, self.fresh = subjects, []

    def set_on_current(self, field: str, value: str) -> bool:
        subjects = self.current
        for i in subjects:
            o = self.spec.objects[i]
            setattr(o, field, value)
            if field == "direction" and o.event is None:
                o.event = "move"
        return bool(subjects)


def parse_prompt(text: str) -> SceneSpec:
    """Parse an English or Korean prompt into a (possibly incomplete) SceneSpec; InputError if not understood."""
    tokens = tokenize(text)
    if not tokens:
        raise InputError(
            "empty prompt; describe a scene, e.g. 'a red ball bounces on green grass'", param="prompt"
        )
    p = _Parser()
    unknown: list[str] = []
    error: InputError | None = None
    i = 0
    while i < len(tokens):
        n, occluder = _korean_occluder(tokens, i)
        if occluder is not None:
            p.spec.occluder = occluder
            i += n
            continue
        m = _match(tokens, i, p.expect_occluder)
        if m is None and p.expect_occluder:
            m = _match(tokens, i, False)
        if m is None:
            if not _is_stopword(tokens[i]):
                unknown.append(tokens[i])
            i += 1
            continue
        entry, n, particle = m
        try:
            _apply(p, entry, particle, tokens, i + n)
        except InputError as e:  # report unknown words first: they are the likelier cause
            error = error or e
        p.last_category = entry.category
        i += n
    if unknown:
        raise InputError(
            f"unknown word(s) {', '.join(repr(w) for w in unknown)} in the prompt; the world knows:\n"
            + vocab.vocabulary_text(),
            param="prompt",
        )
    if error is not None:
        raise error
    _finish(p.spec)
    return p.spec.validate()


def _is_stopword(token: str) -> bool:
    """English filler, Korean filler, or the Korean counter 개 with a particle ("개가", "개와")."""
    if token in EN_STOPWORDS or token in KO_STOPWORDS:
        return True
    return token.startswith("개") and token[1:] in KO_PARTICLES


def _korean_occluder(tokens: list[str], i: int) -> tuple[int, str | None]:
    """Korean "벽 뒤로 지나간다": the occluder comes before the word for "behind" (뒤)."""
    for k, v in vocab.OCCLUDERS.items():
        for phrase in v.words.ko:
            words = phrase.split()
            n = len(words)
            if tokens[i : i + n] == words and i + n < len(tokens) and tokens[i + n].startswith("뒤"):
                return n, k
    return 0, None


def _next_is_object(tokens: list[str], j: int) -> bool:
    """True if the next content token starts a new object (used for Korean '왼쪽에' as a relation)."""
    while j < len(tokens):
        m = _match(tokens, j, False)
        if m is None:
            j += 1
            continue
        return m[0].category in ("kind", "colour", "size", "count")
    return False


def _apply(p: _Parser, e: _Entry, particle: str, tokens: list[str], after: int) -> None:
    c, v = e.category, e.value
    if p.expect_occluder and c in ("colour", "size", "count"):
        return  # adjectives of the occluder ("behind a big gray wall")
    if c == "kind":
        p.add_objects(v, particle)
    elif c == "count" and e.korean and p.last_category == "kind" and not p.pending:
        p.repeat_last(int(v))  # "공 두 개가": the count comes after the noun
    elif c in ("colour", "size", "count"):
        p.pending[c] = v
    elif c == "occluder":
        p.spec.occluder = v
        p.expect_occluder = False
    elif c == "event":
        p.set_event(v)
    elif c in ("direction", "speed"):
        if not p.set_on_current(c, v):
            raise InputError(f"{e.words[0]!r} has no object before it; say what moves", param="prompt")
    elif c == "position":
        if e.korean and v in ("left", "right") and p.spec.objects and _next_is_object(tokens, after):
            # "공 왼쪽에 상자": the box is left of the ball; stored old -> new here and flipped in _finish.
            p.pending_relation = (len(p.spec.objects) - 1, "ko_" + str(v))
        elif p.last_group:  # "a ball on the left and a box on the right": the object just named
            for i in p.last_group:
                p.spec.objects[i].position = v
        else:
            p.pending["position"] = v
    elif c == "relation":
        if not p.current:
            raise InputError(f"{e.words[0]!r} needs an object on each side", param="prompt")
        p.pending_relation = ((p.last_group or p.current)[0], v)
    elif c == "background":
        p.spec.background = v
    elif c == "camera":
        p.spec.camera = v
    elif c == "light":
        p.spec.light = v


def _finish(spec: SceneSpec) -> None:
    """Resolve what only the whole prompt tells: Korean relations, unpaired collisions, enter/exit sides."""
    relations = []
    for r in spec.relations:
        if r.relation.startswith("ko_"):  # "A 왼쪽에 B": B is left of A
            side = r.relation[3:]
            relations.append(Relation(r.b, "left_of" if side == "left" else "right_of", r.a))
        else:
            relations.append(r)
    spec.relations = relations
    opposite = {"left": "right", "right": "left", "top": "down", "bottom": "up"}
    for o in spec.objects:
        if o.event == "enter" and o.position in opposite and o.direction is None:
            o.direction = opposite[o.position]  # "enters from the left" moves right
        if o.event == "exit" and o.direction is None and o.position in ("left", "right"):
            o.direction = o.position  # "leaves on the right" moves right
        if o.event == "exit" and o.direction is None and o.position in ("top", "bottom"):
            o.direction = "up" if o.position == "top" else "down"
    for k, o in enumerate(
        spec.objects
    ):  # "two balls collide" pairs them; a lone collider waits for complete_spec
        if o.event == "collide" and o.target is None:
            partners = [
                j
                for j, q in enumerate(spec.objects)
                if j != k and q.event == "collide" and q.target in (None, k)
            ]
            if partners:
                o.target = partners[0]
