"""Procedural backdrops, drawn once per clip over the world area the camera will see.

`render_background(name, x0, y0, w, h, unit, view_h, rng)` returns an (h, w, 3) uint8 image covering world
units [x0, x0 + w / unit) x [y0, y0 + h / unit); the camera (render.py) crops, pans and zooms it per frame.
Each backdrop is a function of world coordinates, so the ground stays put while the camera moves. Main
colours come from vocab.BACKGROUNDS (what object colours are checked against); details (clouds, stars,
bricks, grass blades, waves) stay thin or small so a colour segmenter does not take them for objects.
"""

from __future__ import annotations

import cv2
import numpy as np

from haneul.world import vocab


def _lerp(a, b, u: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a + (b - a) * u[..., None]


def _noise(h: int, w: int, cell: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in [-1, 1] with features about `cell` pixels wide."""
    small = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(small, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)[
        cell : cell + h, cell : cell + w
    ]


def render_background(
    name: str, x0: float, y0: float, w: int, h: int, unit: float, view_h: float, rng: np.random.Generator
) -> np.ndarray:
    bg = vocab.BACKGROUNDS[name]
    ys = y0 + (np.arange(h, dtype=np.float32) + 0.5) / unit  # world y of each row
    if name in ("white", "black"):
        return np.full((h, w, 3), bg.colours[0], np.uint8)
    if name == "night":
        return _night(ys, w, unit, view_h, bg.colours, rng)
    if name == "wall":
        return _wall(x0, y0, w, h, unit, bg.colours, rng)
    horizon = (bg.horizon if bg.horizon is not None else 1.0) * view_h
    sky_u = np.clip(ys / max(horizon, 1e-6), 0, 1)
    img = np.repeat(_lerp(bg.colours[0], bg.colours[1], sky_u)[:, None, :], w, 1)
    _clouds(img, x0, y0, unit, horizon, rng)
    if bg.horizon is not None:
        ground_rows = ys >= horizon
        g_u = np.clip((ys - horizon) / max(view_h - horizon, 1e-6), 0, 1)
        ground = np.repeat(_lerp(bg.colours[2], bg.colours[3], g_u)[:, None, :], w, 1)
        ground += _noise(h, w, max(2, int(unit * 0.05)), rng)[..., None] * 10
        img[ground_rows] = ground[ground_rows]
        _ground_detail(name, img, ys, horizon, unit, bg.colours, rng)
    return np.clip(img, 0, 255).astype(np.uint8)


def _clouds(
    img: np.ndarray, x0: float, y0: float, unit: float, horizon: float, rng: np.random.Generator
) -> None:
    """A few soft white clouds high in the sky (about one per unit of width)."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    for _ in range(max(1, int(w / unit))):
        cx = rng.uniform(0, w)
        cy = (rng.uniform(0.05, 0.3) * horizon - y0) * unit
        for _ in range(3):
            axes = (int(unit * rng.uniform(0.06, 0.12)), int(unit * rng.uniform(0.03, 0.05)))
            centre = (int(cx + rng.uniform(-0.08, 0.08) * unit), int(cy + rng.uniform(-0.02, 0.02) * unit))
            cv2.ellipse(layer, centre, axes, 0, 0, 360, 0.85, -1, cv2.LINE_AA)
    layer = cv2.GaussianBlur(layer, (0, 0), max(unit * 0.01, 0.6))
    img += (np.float32(250) - img) * layer[..., None]


def _ground_detail(
    name: str, img: np.ndarray, ys: np.ndarray, horizon: float, unit: float, colours, rng
) -> None:
    h, w = img.shape[:2]
    top = int(np.searchsorted(ys, horizon))
    if top >= h:
        return
    n = int(w * (h - top) / max(unit * unit, 1) * 120)
    thick = max(1, round(unit / 200))  # strokes keep their look at high resolution
    if name == "grass":  # short blades, darker and lighter than the lawn
        for _ in range(n):
            x, y = rng.uniform(0, w), rng.uniform(top, h)
            shade = (np.array(colours[3]) * rng.uniform(0.7, 1.25)).tolist()
            tip = (int(x + rng.uniform(-2, 2) * thick), int(y - unit * 0.025))
            cv2.line(img, (int(x), int(y)), tip, shade, thick, cv2.LINE_AA)
    elif name in ("sea", "sand", "snow"):  # wave crests, ripples, soft hollows
        count, axes, arc, colour, fill = {
            "sea": (n // 3, (0.04, 0.01), (180, 360), (150, 195, 225), thick),
            "sand": (n // 4, (0.06, 0.012), (200, 340), (196, 166, 110), thick),
            "snow": (n // 10, (0.07, 0.015), (0, 360), (210, 222, 238), -1),
        }[name]
        size = (int(unit * axes[0]), int(unit * axes[1]))
        for _ in range(count):
            centre = (int(rng.uniform(0, w)), int(rng.uniform(top, h)))
            cv2.ellipse(img, centre, size, 0, arc[0], arc[1], colour, fill, cv2.LINE_AA)


def _night(ys: np.ndarray, w: int, unit: float, view_h: float, colours, rng) -> np.ndarray:
    h = len(ys)
    img = np.repeat(_lerp(colours[0], colours[1], np.clip(ys / view_h, 0, 1))[:, None, :], w, 1)
    for _ in range(int(w * h / max(unit * unit, 1) * 60)):  # stars: single soft pixels
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        b = rng.uniform(120, 255)
        img[y, x] = (b, b, min(255, b * 1.05))
    return np.clip(img, 0, 255).astype(np.uint8)


def _wall(x0: float, y0: float, w: int, h: int, unit: float, colours, rng) -> np.ndarray:
    """Stone blocks in staggered rows with mortar joints; rows and blocks are fixed in world units."""
    row_h, brick_w = 0.1, 0.22
    img = np.empty((h, w, 3), np.float32)
    img[:] = colours[2]  # mortar
    first_row = int(np.floor(y0 / row_h))
    last_row = int(np.ceil((y0 + h / unit) / row_h))
    for row in range(first_row, last_row + 1):
        offset = (row % 2) * brick_w / 2
        first = int(np.floor((x0 - offset) / brick_w)) - 1
        for col in range(first, first + int(w / unit / brick_w) + 3):
            bx0 = (offset + col * brick_w - x0) * unit
            by0 = (row * row_h - y0) * unit
            shade = np.array(colours[int(rng.integers(2))], np.float32) * rng.uniform(0.95, 1.05)
            p0 = (int(round(bx0 + 1)), int(round(by0 + 1)))
            p1 = (int(round(bx0 + brick_w * unit - 1)), int(round(by0 + row_h * unit - 1)))
            cv2.rectangle(img, p0, p1, shade.tolist(), -1)
    img += _noise(h, w, max(2, int(unit * 0.03)), rng)[..., None] * 6
    return np.clip(img, 0, 255).astype(np.uint8)
