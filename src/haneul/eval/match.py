"""Which tracked object is which expected object, and how many distinct objects a video shows.

Tracks break when an object is missed for long or changes look; a chain joins the tracks of one colour that
never overlap in time (the same object before and after an occluder, say). Expected objects are assigned to
distinct chains by exhaustive search (at most 4 objects, a handful of chains), maximising agreement in
colour and kind first and closeness to the world's path last, so a recoloured object still gets matched
(and then fails the colour score) while identical objects are told apart by where they are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from haneul.eval.expected import Expectation, ExpectedObject
from haneul.eval.track import Detection, Track, majority

MIN_DETECTIONS = 3  # a chain seen in fewer frames is noise, not an object
MAX_CANDIDATES = 8  # chains considered for matching (the longest ones)


@dataclass
class Chain:
    """One object as seen: one or more tracks of the same colour, one after another."""

    tracks: list[Track] = field(default_factory=list)

    @property
    def dets(self) -> list[Detection]:
        return sorted((d for t in self.tracks for d in t.dets), key=lambda d: d.frame)

    @property
    def colour(self) -> str:
        return majority([d.colour for d in self.dets])

    @property
    def kind(self) -> str:
        whole = [d.kind for d in self.dets if not d.partial and d.kind != "unknown"]
        return majority(whole or [d.kind for d in self.dets])

    @property
    def frames(self) -> np.ndarray:
        return np.array([d.frame for d in self.dets])

    @property
    def xy(self) -> np.ndarray:
        return np.array([(d.x, d.y) for d in self.dets], dtype=np.float64).reshape(-1, 2)

    def at(self, frame: int) -> Detection | None:
        for d in self.dets:
            if d.frame == frame:
                return d
        return None


def build_chains(tracks: list[Track]) -> list[Chain]:
    """Join same-coloured tracks that do not overlap in time, longest first; drop chains too short to count."""
    chains: list[Chain] = []
    for track in sorted(tracks, key=lambda t: -len(t.dets)):
        frames = set(track.frames.tolist())
        for chain in chains:
            if chain.colour == track.colour and not frames & set(chain.frames.tolist()):
                if _continues(chain, track):
                    chain.tracks.append(track)
                    break
        else:
            chains.append(Chain([track]))
    return [c for c in chains if len(c.dets) >= MIN_DETECTIONS]


def _continues(chain: Chain, track: Track) -> bool:
    """A track continues a chain if it starts after the chain ends or ends before it starts."""
    return track.first > chain.frames.max() or track.last < chain.frames.min()


@dataclass
class Match:
    """Expected objects (by index) -> chains (None: not found), and all chains seen."""

    assigned: dict[int, Chain | None]
    chains: list[Chain]


def match_objects(exp: Expectation, tracks: list[Track]) -> Match:
    chains = build_chains(tracks)
    candidates = sorted(chains, key=lambda c: -len(c.dets))[:MAX_CANDIDATES]
    objs = exp.objects
    slots: list[Chain | None] = list(candidates) + [None] * len(objs)
    table = np.array([[affinity(o, c, exp.short_side) for c in slots] for o in objs])  # (objects, slots)
    rows = np.arange(len(objs))
    best = max(itertools.permutations(range(len(slots)), len(objs)), key=lambda p: table[rows, list(p)].sum())
    return Match(assigned={o.index: slots[k] for o, k in zip(objs, best, strict=True)}, chains=chains)


def affinity(obj: ExpectedObject, chain: Chain | None, short_side: float) -> float:
    """How well a chain fits an expected object; 0 for no chain, so any plausible chain beats none."""
    if chain is None:
        return 0.0
    score = 0.5  # being an object at all
    score += 2.0 if chain.colour == obj.colour_shown else 0.0
    score += 1.0 if chain.kind == obj.kind_shown else 0.0
    frames = chain.frames
    dist = np.hypot(*(chain.xy - obj.path[frames]).T).mean() / short_side
    score += 0.5 * math.exp(-3.0 * dist)
    return score
