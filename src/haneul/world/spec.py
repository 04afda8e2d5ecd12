"""What a world scene is made of: `SceneSpec` (objects, their events, relations, background, camera, light).

A spec is what a prompt says. Any field may be None ("the prompt left it open"); `complete_spec` fills the
open fields from a random generator, and only a complete spec can be simulated and rendered. All values are
the canonical names of `haneul.world.vocab`. Specs are plain data: `to_dict`/`from_dict` round-trip
through JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from haneul.errors import InputError
from haneul.world import vocab


@dataclass
class ObjectSpec:
    """One object and what it does during the clip."""

    kind: str | None = None  # vocab.KINDS
    colour: str | None = None  # vocab.COLOURS
    size: str | None = None  # vocab.SIZES
    event: str | None = None  # vocab.EVENTS: still, move, bounce, roll, rotate, grow, shrink, collide, ...
    direction: str | None = None  # vocab.DIRECTIONS, for events in vocab.TAKES_DIRECTION
    speed: str | None = None  # vocab.SPEEDS (slow, medium, fast)
    position: str | None = None  # vocab.POSITIONS: where it starts in the view
    target: int | None = None  # index of the other object, for collide and follow


@dataclass
class Relation:
    """`objects[a]` starts `relation` `objects[b]`: e.g. Relation(0, "left_of", 1). Viewer's left and right."""

    a: int
    relation: str  # vocab.RELATION_WORDS: left_of, right_of, above, below
    b: int


@dataclass
class SceneSpec:
    """A whole scene. An empty `objects` list means the number of objects is open too."""

    objects: list[ObjectSpec] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    background: str | None = None  # vocab.BACKGROUNDS
    camera: str | None = None  # vocab.CAMERA_MOVES
    light: str | None = None  # vocab.LIGHTS
    occluder: str | None = None  # vocab.OCCLUDERS; needed when an object's event is pass_behind

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SceneSpec:
        return cls(
            objects=[ObjectSpec(**o) for o in d.get("objects", [])],
            relations=[Relation(**r) for r in d.get("relations", [])],
            background=d.get("background"),
            camera=d.get("camera"),
            light=d.get("light"),
            occluder=d.get("occluder"),
        )

    def is_complete(self) -> bool:
        """True when nothing is left open (direction/speed/target only where the event uses them)."""
        if not self.objects or None in (self.background, self.camera, self.light):
            return False
        for o in self.objects:
            if None in (o.kind, o.colour, o.size, o.event, o.speed, o.position):
                return False
            if o.event in vocab.TAKES_DIRECTION and o.direction is None:
                return False
            if o.event in vocab.NEEDS_TARGET and o.target is None:
                return False
            if o.event == "pass_behind" and self.occluder is None:
                return False
        return True

    def validate(self) -> SceneSpec:
        """Raise InputError for any value outside the vocabulary or any impossible combination."""
        _check("background", self.background, vocab.BACKGROUNDS)
        _check("camera", self.camera, vocab.CAMERA_MOVES)
        _check("light", self.light, vocab.LIGHTS)
        _check("occluder", self.occluder, vocab.OCCLUDERS)
        if len(self.objects) > vocab.MAX_OBJECTS:
            raise InputError(f"{len(self.objects)} objects; the world shows 1 to {vocab.MAX_OBJECTS}")
        n = len(self.objects)
        for i, o in enumerate(self.objects):
            _check("kind", o.kind, vocab.KINDS)
            _check("colour", o.colour, vocab.COLOURS)
            _check("size", o.size, vocab.SIZES)
            _check("event", o.event, vocab.EVENTS)
            _check("direction", o.direction, vocab.DIRECTIONS)
            _check("speed", o.speed, vocab.SPEEDS)
            _check("position", o.position, vocab.POSITIONS)
            if o.target is not None and not (0 <= o.target < n and o.target != i):
                raise InputError(f"object {i} targets object {o.target}; there are {n} objects")
            if o.colour is not None and vocab.clashes(o.colour, self.background, self.occluder):
                allowed = ", ".join(vocab.allowed_colours(self.background, self.occluder))
                places = [f"the {self.background} background"] if self.background else []
                places += [f"the {self.occluder}"] if self.occluder else []
                where = " and ".join(places)
                raise InputError(
                    f"a {o.colour} object would not stand out on {where}; choose one of: {allowed}"
                )
        for r in self.relations:
            _check("relation", r.relation, vocab.RELATION_WORDS)
            if not (0 <= r.a < n and 0 <= r.b < n and r.a != r.b):
                raise InputError(
                    f"relation {r.relation} between objects {r.a} and {r.b}; there are {n} objects"
                )
        return self


def _check(name: str, value: str | None, table: dict) -> None:
    if value is not None and value not in table:
        raise InputError(f"unknown {name} {value!r}; valid: {', '.join(table)}", param=name)
