"""Finding the world's objects in frames with classical vision: light, colour segmentation, shape features.

No learned weights. Three steps per video:

1. Light and background. The world's light multiplies the RGB channels (vocab.LIGHTS: day, dusk, night).
   On a few frames we search the backdrop (vocab.BACKGROUNDS, as sky and ground parts made of colour
   gradients) and the gain along the day -> dusk -> night path that best explain the pixels; then every
   frame gets its own gain under that backdrop. The backdrop fits are the background score's evidence;
   the gain undoes the light before colours are named.
2. Colour segmentation in CIE Lab. Object colours (vocab.COLOURS) are at least 39 apart in Lab and never
   within 32 of the backdrop's or the occluder's main colours, so a pixel within `MATCH_DISTANCE` of an
   allowed object colour, and nearer to it than to the backdrop, is an object pixel (with hysteresis up to
   `WEAK_DISTANCE` next to sure pixels, for edges softened by H.264). Connected regions of one colour are
   candidate objects; blends at anti-aliased edges are too thin to have a core and do not count.
3. Shape features of each region's outline (circularity, fill of the bounding rectangle, circle and
   triangle, solidity, elongation, a hole, convexity-defect depth) classified by the nearest prototype
   (`PROTOTYPES`, measured on the world's own outlines at every size and angle, clean and after an MP4
   round trip; see tests/test_eval_detect.py).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from haneul.eval.track import Detection
from haneul.world import vocab

COLOUR_NAMES = list(vocab.COLOURS)
PALETTE_LAB = np.stack([vocab.rgb_to_lab(c) for c in vocab.COLOURS.values()]).astype(np.float32)

MATCH_DISTANCE = 20.0  # Lab distance within which a pixel surely has an object colour (pairs are >= 39 apart)
WEAK_DISTANCE = 32.0  # ... and likely has it, if it touches sure pixels (compressed edges)
MIN_AREA = 12  # pixels; smaller regions are stars in the night sky, grass blades, edge blends
KERNEL = np.ones((3, 3), np.uint8)
KIND_MIN_AREA = 60  # pixels; a smaller outline (a shrunk star, say) is too coarse to tell kinds apart
BACKGROUND_CAP = 0.25  # per-pixel RGB error cap when scoring backdrops, so objects weigh little

# Gains along the world's light path: day (s=0) -> dusk (s=1) -> night (s=2), as in sim._light.
_DAY = np.array(vocab.LIGHTS["day"].start)
_DUSK = np.array(vocab.LIGHTS["dusk"].start)
_NIGHT = np.array(vocab.LIGHTS["night"].start)
LIGHT_PATH = np.array(
    [_DAY + (_DUSK - _DAY) * s for s in np.linspace(0, 1, 11)]
    + [_DUSK + (_NIGHT - _DUSK) * s for s in np.linspace(0, 1, 11)[1:]]
)  # (21, 3)


@dataclass
class SceneLight:
    """What step 1 found: the backdrop per sampled frame and the light gain of every frame."""

    gains: np.ndarray  # (F, 3) RGB gain per frame
    background: str  # the backdrop that explains the video best
    consistent: list[list[str]]  # per sampled frame: backdrops that explain it about as well as the best
    complete: dict[str, bool]  # backdrop -> all its parts (sky, ground) seen in some sampled frame
    errors: dict[str, float]  # mean error of each backdrop at its best gain


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float32 CIE Lab (L in 0..100), same formula as vocab.rgb_to_lab."""
    shape = rgb.shape
    flat = rgb.reshape(-1, shape[-2], 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(shape)


# --- step 1: light and background ----------------------------------------------------------------------------


def _backdrop_parts(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The backdrop's colour model: parts (sky, ground) made of RGB segments (gradients) in 0..1.

    Backdrops with a horizon have a sky part (colours 0 -> 1) and a ground part (2 -> 3); the wall has
    three flat colours (two brick shades and mortar); the others are one gradient or one flat colour.
    """
    cols = [np.array(c, np.float32) / 255 for c in vocab.BACKGROUNDS[name].colours]
    if name == "wall":
        return [(np.stack(cols), np.stack(cols))]
    if len(cols) == 1:
        return [(np.stack(cols), np.stack(cols))]
    return [(cols[i][None], cols[i + 1][None]) for i in range(0, len(cols), 2)]


PARTS = {name: _backdrop_parts(name) for name in vocab.BACKGROUNDS}
SEGMENTS = {  # every segment of a backdrop together: what decides "not an object colour" pixels
    name: (np.concatenate([s for s, _ in parts]), np.concatenate([e for _, e in parts]))
    for name, parts in PARTS.items()
}
COVER_DISTANCE = 0.08  # RGB distance (0..1) within which a pixel counts as showing a backdrop part
MIN_COVER = 0.1  # every part of a backdrop (sky and ground) must show on this share of some frame


def _segment_distances(pixels: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distance of each pixel (N, 3) to each segment (S, 3)-(S, 3): (N, S)."""
    d = ends - starts  # (S, 3)
    length2 = np.maximum((d * d).sum(-1), 1e-9)
    u = ((pixels[:, None, :] - starts[None]) * d[None]).sum(-1) / length2  # (N, S)
    u = np.clip(u, 0, 1)
    nearest = starts[None] + u[..., None] * d[None]
    return np.sqrt(((pixels[:, None, :] - nearest) ** 2).sum(-1))


def _sample_pixels(frame: np.ndarray, n: int) -> np.ndarray:
    """An n x n grid of pixels as (n*n, 3) RGB in 0..1."""
    h, w = frame.shape[:2]
    ys = np.linspace(0, h - 1, n).astype(int)
    xs = np.linspace(0, w - 1, n).astype(int)
    return frame[ys][:, xs].reshape(-1, 3).astype(np.float32) / 255


@dataclass
class BackdropFit:
    error: float  # mean capped RGB distance of the frame's pixels to the backdrop at its best gain
    gain: int  # index into LIGHT_PATH
    complete: bool  # every part (sky, ground) shows on at least MIN_COVER of the frame


def backdrop_fits(
    frame: np.ndarray, names: tuple[str, ...] = tuple(PARTS), grid: int = 12, occluder: str | None = None
) -> dict[str, BackdropFit]:
    """How well each backdrop, under each light on the world's light path, explains one frame.

    An occluder's colours (it stands in front of every backdrop) explain pixels for all backdrops alike
    but are not a part that must show."""
    pixels = _sample_pixels(frame, grid)
    gains = LIGHT_PATH.astype(np.float32)
    extra = []
    if occluder is not None:
        cols = np.array(vocab.OCCLUDERS[occluder].colours, np.float32) / 255
        extra = [(cols, cols)]
    out = {}
    for name in names:
        parts = PARTS[name] + extra
        # (N, G, P): distance of each pixel to each part under each gain, all gains at once.
        per_part = []
        for starts, ends in parts:
            s = (starts[None] * gains[:, None]).reshape(-1, 3)
            e = (ends[None] * gains[:, None]).reshape(-1, 3)
            d = _segment_distances(pixels, s, e).reshape(len(pixels), len(gains), -1).min(-1)
            per_part.append(d)
        d = np.stack(per_part, -1)
        errs = np.minimum(d.min(-1), BACKGROUND_CAP).mean(0)  # (G,)
        k = int(np.argmin(errs))
        nearest = d[:, k].argmin(-1)
        covered = d[:, k].min(-1) < COVER_DISTANCE
        cover = [float((covered & (nearest == p)).mean()) for p in range(len(PARTS[name]))]
        out[name] = BackdropFit(float(errs[k]), k, min(cover) >= MIN_COVER)
    return out


def estimate_light(frames: np.ndarray, samples: int = 3, occluder: str | None = None) -> SceneLight:
    """The backdrop, from a few evenly spaced frames, then the light gain of every frame under it (each
    frame on its own: no assumption about how light changes over time, or about frame order).

    The video's backdrop is the one with the least error among those seen whole in some frame (so a
    plain sky is not taken for "grass" whose ground never shows). Per frame, every backdrop within a
    small margin of the best is consistent with it: a frame of sky alone fits sky, grass, sea, sand, snow.
    `occluder`: the scene's occluder, if the prompt has one (its colours are not backdrop errors).
    """
    n = len(frames)
    idx = np.unique(np.linspace(0, n - 1, min(samples, n)).round().astype(int))
    fits = [backdrop_fits(frames[i], occluder=occluder) for i in idx]
    complete = {name: any(f[name].complete for f in fits) for name in PARTS}
    totals = {name: float(np.mean([f[name].error for f in fits])) for name in PARTS}
    best = min(PARTS, key=lambda k: totals[k] + (0.0 if complete[k] else 1.0))
    gains = np.stack(
        [LIGHT_PATH[backdrop_fits(f, (best,), 8, occluder)[best].gain] for f in frames]
    )  # (F, 3)
    consistent = []
    for f in fits:  # compared with backdrops seen whole: a ground never seen competes with nothing
        least = min(fit.error for name, fit in f.items() if complete[name] or name == best)
        consistent.append(sorted(name for name, fit in f.items() if fit.error <= 1.5 * least + 0.01))
    return SceneLight(gains, best, consistent, complete, totals)


# --- step 3: shape features and kinds --------------------------------------------------------------------------

FEATURES = ("circle_fill", "rect_fill", "triangle_fill", "solidity", "elongation", "hole", "defect")

# Mean features of each kind over sizes, angles and frame shapes, measured on world renders (rings are
# balls with a hole: `hole` decides them on its own). A walking character has two poses: legs together
# (long and narrow) and mid-stride (shorter, with a deep notch between the legs). The second block is
# small objects after an H.264 round trip, whose outlines compression rounds and notches. Order as FEATURES.
PROTOTYPES: list[tuple[str, tuple[float, ...]]] = [
    ("ball", (0.91, 0.79, 0.60, 0.97, 1.02, 0.0, 0.04)),
    ("box", (0.64, 1.00, 0.52, 1.00, 1.00, 0.0, 0.00)),
    ("triangle", (0.42, 0.51, 0.92, 0.94, 1.16, 0.0, 0.05)),
    ("star", (0.40, 0.39, 0.32, 0.54, 1.06, 0.0, 0.35)),
    ("heart", (0.61, 0.70, 0.71, 0.90, 1.02, 0.0, 0.19)),
    ("person", (0.32, 0.48, 0.44, 0.66, 1.83, 0.0, 0.42)),
    ("person", (0.30, 0.37, 0.37, 0.50, 1.44, 0.0, 0.68)),
    ("car", (0.52, 0.68, 0.52, 0.80, 1.57, 0.0, 0.25)),
    # small, compressed
    ("ball", (0.81, 0.80, 0.58, 0.94, 1.04, 0.0, 0.08)),
    ("box", (0.64, 0.93, 0.51, 0.96, 1.04, 0.0, 0.04)),
    ("triangle", (0.46, 0.55, 0.79, 0.86, 1.11, 0.0, 0.14)),
    ("star", (0.46, 0.47, 0.38, 0.63, 1.06, 0.0, 0.30)),
    ("heart", (0.61, 0.68, 0.67, 0.88, 1.09, 0.0, 0.14)),
    ("person", (0.33, 0.56, 0.48, 0.73, 1.99, 0.0, 0.24)),
]
# How much each feature counts in the L1 distance: the fills separate kinds best; the defect depth is the
# noisiest on small outlines. (Weights chosen on the renders above: 0 errors clean, 2% compressed.)
FEATURE_WEIGHTS = np.array([1.5, 1.5, 1.5, 1.0, 1.0, 0.0, 0.25])
HOLE_RING = 0.15  # hole / outer area: a ring has 0.32; a character's crossed legs enclose up to 0.07


@dataclass
class Shape:
    circle_fill: float  # area / minimum enclosing circle
    rect_fill: float  # area / minimum-area rectangle
    triangle_fill: float  # area / minimum enclosing triangle
    solidity: float  # area / convex hull
    elongation: float  # long side / short side of the minimum-area rectangle
    hole: float  # hole area / outer area (rings)
    defect: float  # deepest convexity defect / sqrt(area) (stars, hearts, characters)
    upright: float = 1.0  # height / width of the upright bounding box (characters stand, cars lie)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)


def shape_features(mask: np.ndarray) -> Shape | None:
    """Features of the largest outline in a binary mask (uint8 0/1); None if it is too small."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outer_ids = [i for i in range(len(contours)) if hierarchy[0][i][3] == -1]
    k = max(outer_ids, key=lambda i: cv2.contourArea(contours[i]))
    outer = contours[k]
    area = cv2.contourArea(outer)
    if area < 4:
        return None
    holes = sum(cv2.contourArea(contours[i]) for i in range(len(contours)) if hierarchy[0][i][3] == k)
    hull = cv2.convexHull(outer)
    (_, _), (rw, rh), _ = cv2.minAreaRect(outer)
    _, radius = cv2.minEnclosingCircle(outer)
    tri_area, _ = cv2.minEnclosingTriangle(outer)
    defect = 0.0
    hull_idx = cv2.convexHull(outer, returnPoints=False)
    if len(outer) > 3 and len(hull_idx) > 3:
        try:
            defects = cv2.convexityDefects(outer, hull_idx)
        except cv2.error:  # self-intersecting outline of a tiny region
            defects = None
        if defects is not None and defects.size:  # an empty array when the outline has no dent
            defect = float(defects.reshape(-1, 4)[:, 3].max()) / 256.0 / math.sqrt(area)
    return Shape(
        circle_fill=area / max(math.pi * radius * radius, 1e-6),
        rect_fill=area / max(rw * rh, 1e-6),
        triangle_fill=area / max(tri_area, 1e-6),
        solidity=area / max(cv2.contourArea(hull), 1e-6),
        elongation=max(rw, rh) / max(min(rw, rh), 1e-6),
        hole=holes / area,
        defect=defect,
        upright=mask.shape[0] / mask.shape[1],
    )


def classify_shape(shape: Shape) -> str:
    """Nearest prototype kind; a clear hole makes a ring whatever the outline."""
    if shape.hole > HOLE_RING:
        return "ring"
    v = shape.vector()
    dist: dict[str, float] = {}
    for kind, proto in PROTOTYPES:
        dist[kind] = min(
            dist.get(kind, math.inf), float(np.abs((v - np.array(proto)) * FEATURE_WEIGHTS).sum())
        )
    first, second = sorted(dist, key=lambda k: dist[k])[:2]
    # A small character loses its thin limbs and looks like a car in outline; a character stands and a
    # car lies, which decides between the two when the outline does not.
    if {first, second} == {"person", "car"} and dist[second] - dist[first] < 0.3:
        return "person" if shape.upright > 1.0 else "car"
    return first


# --- step 2: colour segmentation ------------------------------------------------------------------------------


def allowed_colours(background: str | None, occluder: str | None) -> list[str]:
    """Object colours the world can show on this backdrop; others cannot be told from the backdrop."""
    return vocab.allowed_colours(background, occluder)


@functools.lru_cache(maxsize=64)
def colour_table(colours: tuple[str, ...], backdrop: str | None) -> ColourTable:
    """Tables are the same for every video with the same backdrop and colours: build each once."""
    return ColourTable(list(colours), backdrop)


class ColourTable:
    """The object colour of every RGB colour (quantised, light already undone) for one video's backdrop.

    A lookup table makes segmentation one indexing operation per frame: entry = k (index into `colours`)
    for a sure pixel of colour k (within MATCH_DISTANCE), k + WEAK for a likely one (within WEAK_DISTANCE:
    edges softened by video compression), 255 for "not an object colour" (too far from every allowed
    colour, or nearer to the backdrop). Likely pixels count only next to sure ones (hysteresis).
    """

    WEAK = 64

    BITS = 5  # 32 levels per channel: quantisation moves a colour by about 3 Lab units at most

    def __init__(self, colours: list[str], backdrop: str | None):
        self.colours = colours
        q = 1 << self.BITS
        grid = (np.arange(q, dtype=np.float32) + 0.5) * (256 / q) / 255
        rgb = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)  # (q^3, 3) in 0..1
        lab = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2Lab).reshape(-1, 3)
        palette = PALETTE_LAB[[COLOUR_NAMES.index(c) for c in colours]]
        d = np.sqrt(((lab[:, None, :] - palette[None]) ** 2).sum(-1))  # (q^3, K)
        label = d.argmin(1)
        ok = np.ones(len(rgb), bool)
        if backdrop is not None:  # a colour nearer the backdrop than its object colour is backdrop
            own_rgb = np.array([vocab.COLOURS[c] for c in colours], np.float32)[label] / 255
            own = np.sqrt(((rgb - own_rgb) ** 2).sum(-1))
            starts, ends = SEGMENTS[backdrop]
            ok = own < _segment_distances(rgb, starts, ends).min(1)
        sure = ok & (d.min(1) < MATCH_DISTANCE)
        likely = ok & (d.min(1) < WEAK_DISTANCE)
        self.table = np.where(sure, label, np.where(likely, label + self.WEAK, 255)).astype(np.uint8)

    def labels(self, frame: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """(H, W) uint8 object-colour index per pixel of a uint8 RGB frame lit with `gain`."""
        corrected = np.clip(frame.astype(np.float32) * (1.0 / gain.astype(np.float32)), 0, 255).astype(
            np.uint8
        )
        q = corrected >> (8 - self.BITS)
        index = (
            (q[..., 0].astype(np.int32) << (2 * self.BITS))
            | (q[..., 1].astype(np.int32) << self.BITS)
            | q[..., 2]
        )
        return self.table[index]


def detect_frame(frame: np.ndarray, index: int, gain: np.ndarray, table: ColourTable) -> list[Detection]:
    """Objects in one uint8 RGB frame: connected regions of one object colour, with their kinds.

    Regions of one colour that nearly touch are one object split by something in front of it (a tree
    trunk, another object); they become one detection marked partial, whose outline says nothing.
    """
    labels = table.labels(frame, gain)
    h, w = labels.shape
    margin = max(2, round(0.02 * min(h, w)))
    dets = []
    present = np.bincount(labels.ravel(), minlength=256)
    for k in np.nonzero(present[: table.WEAK] >= MIN_AREA)[0]:
        sure = (labels == k).astype(np.uint8)
        # Regions of sure and likely pixels, closed: H.264 halves colour resolution and leaves soft edges,
        # pinholes and notches that would change the outline.
        mask = cv2.morphologyEx(sure | (labels == k + table.WEAK), cv2.MORPH_CLOSE, KERNEL)
        n, comp, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
        # Blends at anti-aliased edges can land near another object colour, in bands one or two pixels
        # wide; a real object has a core of sure pixels that survives a 3x3 erosion.
        core = np.bincount(comp[cv2.erode(sure, KERNEL) > 0], minlength=n)
        keep = [c for c in range(1, n) if stats[c, 4] >= MIN_AREA and core[c] > 0]
        for group in _near_groups([stats[c, :4] for c in keep], margin):
            ids = [keep[g] for g in group]
            dets.append(_detection(index, table.colours[k], comp, stats, cents, ids, (w, h)))
    return dets


def _near_groups(boxes: list[np.ndarray], margin: int) -> list[list[int]]:
    """Indices of boxes (x, y, w, h) grouped when they come within `margin` pixels of each other."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(boxes)), 2):
        (xi, yi, wi, hi), (xj, yj, wj, hj) = boxes[i], boxes[j]
        if (
            xi - margin <= xj + wj
            and xj - margin <= xi + wi
            and yi - margin <= yj + hj
            and yj - margin <= yi + hi
        ):
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _detection(index, colour, comp, stats, cents, ids, size) -> Detection:
    w, h = size
    areas = stats[ids, 4].astype(np.float64)
    x0, y0 = stats[ids, 0].min(), stats[ids, 1].min()
    x1, y1 = (stats[ids, 0] + stats[ids, 2]).max(), (stats[ids, 1] + stats[ids, 3]).max()
    centre = (cents[ids] * areas[:, None]).sum(0) / areas.sum()
    kind = "unknown"
    if len(ids) == 1 and areas.sum() >= KIND_MIN_AREA:
        region = (comp[y0:y1, x0:x1] == ids[0]).astype(np.uint8)
        shape = shape_features(np.pad(region, 1))
        kind = classify_shape(shape) if shape is not None else "unknown"
    return Detection(
        frame=index,
        x=float(centre[0]),
        y=float(centre[1]),
        box=(int(x0), int(y0), int(x1), int(y1)),
        area=float(areas.sum()),
        colour=colour,
        kind=kind,
        partial=bool(len(ids) > 1 or x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h),
    )
