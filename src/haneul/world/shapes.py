"""The outlines of every object kind and occluder, as polygons.

An object kind is a list of parts; each part is a list of closed contours filled together (so a ring is one
part with an outer and an inner contour: the hole). Parts are filled one after another, so overlapping parts
(the head and body of a person) unite instead of cancelling. Coordinates are in object units: the object's
size (vocab.SIZES, a half-extent) maps to 1, x to the viewer's right, y down. Drawing polygons with
anti-aliasing every frame is exact at any scale and rotation (no sprite resampling) and fast with OpenCV.
"""

from __future__ import annotations

import numpy as np

Part = list[np.ndarray]  # contours (N, 2) float


def _circle(cx: float, cy: float, r: float, n: int = 48) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], -1)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _star(points: int = 5, outer: float = 1.05, inner: float = 0.45) -> np.ndarray:
    a = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    pts = np.stack([r * np.cos(a), r * np.sin(a)], -1)
    return pts - [0, pts[:, 1].mean() * 0.5]


def _heart(n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y], -1)
    pts -= (pts.max(0) + pts.min(0)) / 2
    return pts / np.abs(pts).max() * 1.0


def _triangle() -> np.ndarray:
    a = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    pts = np.stack([1.15 * np.cos(a), 1.15 * np.sin(a)], -1)
    return pts + [0, 1.0 - pts[:, 1].max()]  # base sits at y = 1, like the other kinds


def _limb(x0: float, y0: float, x1: float, y1: float, w: float) -> np.ndarray:
    """A thick line from (x0, y0) to (x1, y1) as a quad of width w."""
    d = np.array([x1 - x0, y1 - y0])
    nrm = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9) * w / 2
    p0, p1 = np.array([x0, y0]), np.array([x1, y1])
    return np.stack([p0 + nrm, p1 + nrm, p1 - nrm, p0 - nrm])


def person(phase: float = 0.0) -> list[Part]:
    """A simple character: head, body, arms and legs; `phase` swings the legs and arms (walking)."""
    s = 0.28 * np.sin(phase)
    return [
        [_circle(0.0, -0.72, 0.27, 32)],
        [_rect(-0.24, -0.45, 0.24, 0.32)],
        [_limb(-0.2, -0.38, -0.52 - s * 0.5, 0.12, 0.15)],
        [_limb(0.2, -0.38, 0.52 + s * 0.5, 0.12, 0.15)],
        [_limb(-0.12, 0.28, -0.18 - s, 1.0, 0.17)],
        [_limb(0.12, 0.28, 0.18 + s, 1.0, 0.17)],
    ]


KINDS: dict[str, list[Part]] = {
    "ball": [[_circle(0, 0, 1.0, 64)]],
    "box": [[_rect(-0.86, -0.86, 0.86, 0.86)]],
    "triangle": [[_triangle()]],
    "star": [[_star()]],
    "heart": [[_heart()]],
    "ring": [[_circle(0, 0, 1.0, 64), _circle(0, 0, 0.56, 48)]],
    "person": person(),
    "car": [
        [_rect(-1.0, -0.12, 1.0, 0.42)],
        [np.array([[-0.55, -0.1], [-0.32, -0.52], [0.36, -0.52], [0.62, -0.1]])],
        [_circle(-0.58, 0.5, 0.26, 24)],
        [_circle(0.58, 0.5, 0.26, 24)],
    ],
}


def extent(kind: str) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a kind at angle 0 in object units (negative left/top)."""
    pts = np.concatenate([c for part in KINDS[kind] for c in part])
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def kind_parts(kind: str, phase: float = 0.0) -> list[Part]:
    return person(phase) if kind == "person" and phase else KINDS[kind]


# --- occluders, in world units around their centre --------------------------------------------------------------


def occluder_parts(kind: str, half_w: float, half_h: float) -> list[tuple[Part, int]]:
    """An occluder's parts, each with the index of its colour in vocab.OCCLUDERS[kind].colours.

    All parts together are the silhouette that hides objects; later parts are drawn over earlier ones.
    """
    if kind == "wall":
        lines = [
            (_rect(-half_w, y - 0.006, half_w, y + 0.006), 1) for y in np.linspace(-half_h, half_h, 7)[1:-1]
        ]
        return [([_rect(-half_w, -half_h, half_w, half_h)], 0)] + [([p], c) for p, c in lines]
    if kind == "tree":
        crown_r = half_w
        trunk = _rect(-half_w * 0.22, -half_h + crown_r, half_w * 0.22, half_h)
        return [([trunk], 0), ([_circle(0, -half_h + crown_r, crown_r, 48)], 1)]
    if kind == "box":
        board = 0.12 * half_w
        return [
            ([_rect(-half_w, -half_h, half_w, half_h)], 0),
            ([_rect(-half_w, -half_h, half_w, -half_h + board)], 1),
            ([_rect(-half_w, half_h - board, half_w, half_h)], 1),
            ([_limb(-half_w + board, half_h - board, half_w - board, -half_h + board, board)], 1),
        ]
    raise ValueError(kind)
