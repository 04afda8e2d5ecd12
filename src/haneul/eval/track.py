"""Tracking detected objects across frames: nearest predicted centre, gated by colour and size.

A track is one object seen over time, in one colour (the world's objects are flat single-colour shapes, so a
colour change is a different object). Association is greedy on a cost that adds the distance from the
track's constant-velocity prediction (as a fraction of the frame diagonal) to penalties for a different
kind or size. A track may skip frames (occlusion, a missed detection), with a gate that widens with the
gap, so an object that comes out from behind an occluder joins its old track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detection:
    frame: int
    x: float  # centre, pixels from the left
    y: float  # centre, pixels from the top
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    area: float  # pixels
    colour: str  # nearest vocabulary colour
    kind: str  # shape class from contour features ("unknown" when nothing fits)
    partial: bool = False  # cut by the frame border or split by something in front: kind unreliable


@dataclass
class Track:
    id: int
    dets: list[Detection] = field(default_factory=list)

    @property
    def first(self) -> int:
        return self.dets[0].frame

    @property
    def last(self) -> int:
        return self.dets[-1].frame

    @property
    def frames(self) -> np.ndarray:
        return np.array([d.frame for d in self.dets])

    @property
    def xy(self) -> np.ndarray:
        """(N, 2) centres."""
        return np.array([(d.x, d.y) for d in self.dets], dtype=np.float64)

    @property
    def colour(self) -> str:
        return majority([d.colour for d in self.dets])

    @property
    def kind(self) -> str:
        # Shapes cut by the frame border say little about the kind; vote with whole ones when there are any.
        whole = [d.kind for d in self.dets if not d.partial and d.kind != "unknown"]
        return majority(whole or [d.kind for d in self.dets])

    def predict(self, frame: int) -> tuple[float, float]:
        """Constant-velocity guess of the centre at `frame` from the last two detections."""
        last = self.dets[-1]
        if len(self.dets) < 2:
            return last.x, last.y
        prev = self.dets[-2]
        dt = max(last.frame - prev.frame, 1)
        vx, vy = (last.x - prev.x) / dt, (last.y - prev.y) / dt
        gap = frame - last.frame
        return last.x + vx * gap, last.y + vy * gap


def majority(labels: list[str]) -> str:
    """Most common label; ties go to the one seen first."""
    if not labels:
        return "unknown"
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return max(counts, key=lambda k: counts[k])


def link_cost(track: Track, det: Detection, diag: float, max_gap: int) -> float:
    """Cost of adding `det` to `track`; math.inf when the pair is not plausible."""
    gap = det.frame - track.last
    if gap <= 0 or gap > max_gap:
        return math.inf
    last = track.dets[-1]
    if det.colour != last.colour:
        return math.inf
    px, py = track.predict(det.frame)
    dist = math.hypot(det.x - px, det.y - py) / diag
    # The prediction gets worse with the gap, so the gate widens with it.
    if dist > 0.2 + 0.04 * gap:
        return math.inf
    cost = dist + 0.02 * (gap - 1)
    cost += 0.0 if det.kind == last.kind else 0.05
    cost += 0.05 * abs(math.log(max(det.area, 1.0) / max(last.area, 1.0)))
    return cost


def track_objects(
    detections: list[list[Detection]], width: int, height: int, max_gap: int = 16
) -> list[Track]:
    """Link per-frame detections into tracks (greedy, lowest cost first)."""
    diag = math.hypot(width, height)
    tracks: list[Track] = []
    for dets in detections:
        pairs = []
        for ti, track in enumerate(tracks):
            for di, det in enumerate(dets):
                cost = link_cost(track, det, diag, max_gap)
                if cost < math.inf:
                    pairs.append((cost, ti, di))
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for _, ti, di in sorted(pairs):
            if ti in used_tracks or di in used_dets:
                continue
            tracks[ti].dets.append(dets[di])
            used_tracks.add(ti)
            used_dets.add(di)
        for di, det in enumerate(dets):
            if di not in used_dets:
                tracks.append(Track(id=len(tracks), dets=[det]))
    return tracks
