"""Render a simulated `Scene` through its camera into RGB frames, with per-frame ground truth.

Per frame: the backdrop (drawn once per clip, cropped or warped by the camera), then every object as
anti-aliased polygons (OpenCV fillPoly, LINE_AA, 4 bits of sub-pixel precision), then the occluder in front,
then the light (a per-channel lookup table). No sprite resampling: shapes are exact at any size, zoom and
angle, and a 128x128 frame takes well under a millisecond.

Ground truth (JSON-serialisable, pixels of the output frame, x right, y down):
- per object: id, kind, colour, centre [x, y], box [x0, y0, x1, y1] (the whole object, not clipped to the
  frame or to occluders), visible (0..1: the share of the object's area that is in the frame and not behind
  the occluder or a later-drawn object), velocity [vx, vy] (pixels per second in the world, at the current
  zoom, camera motion not included), angle (degrees, counterclockwise as seen), scale (size x zoom);
- camera {x, y, zoom}: the view centre in pixels of the zoom-1 world (x = width / 2, y = height / 2 at the
  start of a clip with a static camera) and the zoom;
- light {name, level, gain}: gain is the RGB multiplier applied to the whole frame, level its luminance.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from haneul.world import shapes, vocab
from haneul.world.backgrounds import render_background
from haneul.world.sim import Scene

SHIFT = 4  # sub-pixel bits for cv2.fillPoly
ONE = 1 << SHIFT


def render_scene(scene: Scene) -> np.ndarray:
    """All frames (F, H, W, 3) uint8; also sets `scene.truth`."""
    w, h = scene.width, scene.height
    unit = float(min(w, h))
    world, origin = _backdrop(scene, unit)
    static_cam = bool(np.all(scene.camera == scene.camera[0]))
    base = _view(world, origin, scene.camera[0], unit, w, h) if static_cam else None
    frames = np.empty((scene.num_frames, h, w, 3), np.uint8)
    truth_frames = []
    for k in range(scene.num_frames):
        cam = scene.camera[k]
        frame = frames[k]
        frame[:] = base if static_cam else _view(world, origin, cam, unit, w, h)
        polys = [_object_polys(scene, i, k, cam, unit) for i in range(len(scene.tracks))]
        for i, parts in enumerate(polys):
            colour = vocab.COLOURS[scene.spec.objects[i].colour]
            for contours in parts:
                cv2.fillPoly(frame, contours, colour, cv2.LINE_AA, SHIFT)
        occ = _occluder_polys(scene, cam, unit)
        for contours, colour in occ:
            cv2.fillPoly(frame, contours, colour, cv2.LINE_AA, SHIFT)
        _apply_light(frame, scene.light[k])
        truth_frames.append(_frame_truth(scene, k, polys, occ, unit))
    scene.truth = _truth(scene, truth_frames, unit)
    return frames


# --- camera ---------------------------------------------------------------------------------------------------


def _backdrop(scene: Scene, unit: float) -> tuple[np.ndarray, tuple[float, float]]:
    """The backdrop over every world point any frame shows, at `unit` pixels per world unit."""
    vw, vh = scene.view
    half_w = vw / 2 / scene.camera[:, 2]
    half_h = vh / 2 / scene.camera[:, 2]
    x0 = float((scene.camera[:, 0] - half_w).min()) - 2 / unit
    x1 = float((scene.camera[:, 0] + half_w).max()) + 2 / unit
    y0 = float((scene.camera[:, 1] - half_h).min()) - 2 / unit
    y1 = float((scene.camera[:, 1] + half_h).max()) + 2 / unit
    rng = np.random.default_rng([scene.seed, 7])
    img = render_background(
        scene.spec.background, x0, y0, math.ceil((x1 - x0) * unit), math.ceil((y1 - y0) * unit), unit, vh, rng
    )
    return img, (x0, y0)


def _view(
    world: np.ndarray, origin: tuple[float, float], cam: np.ndarray, unit: float, w: int, h: int
) -> np.ndarray:
    zoom = float(cam[2])
    tx = (origin[0] - cam[0]) * zoom * unit + w / 2
    ty = (origin[1] - cam[1]) * zoom * unit + h / 2
    if zoom == 1.0 and abs(tx - round(tx)) < 1e-6 and abs(ty - round(ty)) < 1e-6:
        x, y = -int(round(tx)), -int(round(ty))
        return world[y : y + h, x : x + w]
    m = np.array([[zoom, 0, tx], [0, zoom, ty]], np.float64)
    return cv2.warpAffine(world, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _to_pixels(pts: np.ndarray, cam: np.ndarray, unit: float, w: int, h: int) -> np.ndarray:
    """World units -> output pixels (float)."""
    zoom = cam[2]
    return (pts - cam[:2]) * (zoom * unit) + (w / 2, h / 2)


# --- objects --------------------------------------------------------------------------------------------------


def _object_polys(scene: Scene, i: int, k: int, cam: np.ndarray, unit: float) -> list[list[np.ndarray]]:
    """Each part of object i at frame k as fixed-point pixel contours (int32, SHIFT bits)."""
    o = scene.spec.objects[i]
    tr = scene.tracks[i]
    phase = float(tr.pos[k, 0] / scene.sizes[i] * 1.5) if tr.walk else 0.0
    parts = shapes.kind_parts(o.kind, phase)
    a = math.radians(tr.angle[k])
    c, s = math.cos(a), math.sin(a)
    r = scene.sizes[i] * tr.scale[k]
    # counterclockwise as seen with y down: x' = x c + y s, y' = -x s + y c
    rot = np.array([[c, -s], [s, c]]) * r
    if tr.mirror:
        rot = np.diag([-1.0, 1.0]) @ rot  # flip the shape, then turn it
    out = []
    for part in parts:
        contours = []
        for contour in part:
            world = contour @ rot + tr.pos[k]
            px = _to_pixels(world, cam, unit, scene.width, scene.height)
            contours.append(np.round(px * ONE).astype(np.int32))
        out.append(contours)
    return out


def _occluder_polys(
    scene: Scene, cam: np.ndarray, unit: float
) -> list[tuple[list[np.ndarray], tuple[int, int, int]]]:
    occ = scene.occluder
    if occ is None:
        return []
    colours = vocab.OCCLUDERS[occ.kind].colours
    out = []
    for part, colour_index in shapes.occluder_parts(occ.kind, occ.half_w, occ.half_h):
        contours = [
            np.round(_to_pixels(c + (occ.x, occ.y), cam, unit, scene.width, scene.height) * ONE).astype(
                np.int32
            )
            for c in part
        ]
        out.append((contours, colours[colour_index]))
    return out


def _apply_light(frame: np.ndarray, gain: np.ndarray) -> None:
    if gain[0] == 1.0 and gain[1] == 1.0 and gain[2] == 1.0:
        return
    cv2.LUT(frame, _light_table(float(gain[0]), float(gain[1]), float(gain[2])), dst=frame)


@functools.lru_cache(maxsize=256)
def _light_table(r: float, g: float, b: float) -> np.ndarray:
    """A per-channel lookup table: value * gain, rounded (cached: constant lights reuse one table)."""
    gain = np.array([r, g, b], np.float32)
    lut = np.clip(np.arange(256, dtype=np.float32)[:, None] * gain[None, :] + 0.5, 0, 255).astype(np.uint8)
    return lut.reshape(256, 1, 3)


# --- ground truth ---------------------------------------------------------------------------------------------


def _frame_truth(scene: Scene, k: int, polys: list, occ: list, unit: float) -> dict:
    w, h = scene.width, scene.height
    cover = np.zeros((h, w), np.uint8)
    for contours, _ in occ:
        cv2.fillPoly(cover, contours, 255, cv2.LINE_AA, SHIFT)
    objects = [None] * len(polys)
    for i in reversed(range(len(polys))):  # top-most first, so `cover` holds what is in front
        objects[i] = _object_truth(scene, i, k, polys[i], cover, unit)
    cam = scene.camera[k]
    gain = scene.light[k]
    return {
        "index": k,
        "time": round(k / scene.fps, 6),
        "objects": objects,
        "camera": {
            "x": round(float(cam[0] * unit), 3),
            "y": round(float(cam[1] * unit), 3),
            "zoom": round(float(cam[2]), 5),
        },
        "light": {
            "name": _light_name(scene, k),
            "level": round(float(gain @ [0.299, 0.587, 0.114]), 4),
            "gain": [round(float(g), 4) for g in gain],
        },
    }


def _object_truth(scene: Scene, i: int, k: int, parts: list, cover: np.ndarray, unit: float) -> dict:
    """Centre, box and visible share of object i; marks its pixels in `cover` for the objects behind."""
    pts = np.concatenate([c for part in parts for c in part]) / ONE
    x0, y0 = np.floor(pts.min(0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    offset = np.array([x0, y0]) * ONE
    for contours in parts:
        cv2.fillPoly(mask, [c - offset for c in contours], 255, cv2.LINE_AA, SHIFT)
    full = float(mask.sum(dtype=np.float64))
    visible = 0.0
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, scene.width), min(y1, scene.height)
    if full > 0 and fx1 > fx0 and fy1 > fy0:
        m = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        c = cover[fy0:fy1, fx0:fx1]
        visible = float((m.astype(np.float32) * (255 - c.astype(np.float32))).sum() / 255.0 / full)
        np.maximum(c, m, out=c)
    o = scene.spec.objects[i]
    tr = scene.tracks[i]
    centre = _to_pixels(tr.pos[k], scene.camera[k], unit, scene.width, scene.height)
    return {
        "id": i,
        "kind": o.kind,
        "colour": o.colour,
        "centre": [round(float(centre[0]), 3), round(float(centre[1]), 3)],
        "box": [round(float(v), 3) for v in (*pts.min(0), *pts.max(0))],
        "visible": round(min(visible, 1.0), 4),
        "velocity": [round(float(v), 3) for v in tr.vel[k] * unit * scene.camera[k, 2]],
        "angle": round(float(tr.angle[k]), 3),
        "scale": round(float(tr.scale[k] * scene.camera[k, 2]), 4),
    }


def _light_name(scene: Scene, k: int) -> str:
    if scene.spec.light not in vocab.LIGHT_CHANGES:
        return scene.spec.light
    u = k / max(scene.num_frames - 1, 1)
    return "day" if u < 1 / 3 else "dusk" if u < 2 / 3 else "night"


def _truth(scene: Scene, frames: list[dict], unit: float) -> dict:
    occ = scene.occluder
    occluder = None
    if occ is not None:
        x, y = occ.x * unit, occ.y * unit
        occluder = {
            "kind": occ.kind,
            "world_box": [
                round(v, 3)
                for v in (
                    x - occ.half_w * unit,
                    y - occ.half_h * unit,
                    x + occ.half_w * unit,
                    y + occ.half_h * unit,
                )
            ],
        }
    return {
        "width": scene.width,
        "height": scene.height,
        "num_frames": scene.num_frames,
        "fps": scene.fps,
        "seed": scene.seed,
        "spec": scene.spec.to_dict(),
        "objects": [
            {
                "id": i,
                "kind": o.kind,
                "colour": o.colour,
                "rgb": list(vocab.COLOURS[o.colour]),
                "size": o.size,
                "event": o.event,
            }
            for i, o in enumerate(scene.spec.objects)
        ],
        "occluder": occluder,
        "moments": [
            {"time": round(t, 4), "frame": int(round(t * scene.fps)), "object": i, "what": what}
            for t, i, what in scene.moments
        ],
        "frames": frames,
    }
