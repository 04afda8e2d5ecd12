"""Broken versions of ground-truth videos, to prove each benchmark dimension can fail.

Each corruption breaks one thing and leaves the rest: frozen frames stop all motion, shuffled frames
break time order, recolouring changes object colours only, mirroring swaps left and right, noise
adds per-frame grain, and "vanish" removes an object for good once it is behind the occluder.

    python -m haneul.eval.corrupt [--limit N] [--mp4]   # validity table: mean per dimension and corruption

Corruptions that need to know where objects are use the world's ground truth (`truth` from
`haneul.world.render_clip`).
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from haneul.eval.detect import to_lab
from haneul.world import vocab

CORRUPTIONS = ("static", "shuffle", "recolour", "mirror", "noise", "vanish")


def static(frames: np.ndarray, truth: dict) -> np.ndarray:
    """Every frame is the one where the objects show most (a still picture of the scene)."""
    shown = [sum(o["visible"] for o in f["objects"]) for f in truth["frames"]]
    return np.repeat(frames[int(np.argmax(shown))][None], len(frames), 0)


def shuffle(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """Frames in random order (a permutation that moves every frame)."""
    rng = np.random.default_rng(seed)
    order = np.arange(len(frames))
    while len(frames) > 1 and (order == np.arange(len(frames))).any():
        order = rng.permutation(len(frames))
    return frames[order]


def mirror(frames: np.ndarray) -> np.ndarray:
    """Left and right swapped: every motion and relation along x is reversed."""
    return np.ascontiguousarray(frames[:, :, ::-1])


def noise(frames: np.ndarray, sigma: float = 25.0, seed: int = 0) -> np.ndarray:
    """Independent Gaussian grain on every frame."""
    rng = np.random.default_rng(seed)
    noisy = frames.astype(np.float32) + rng.normal(0, sigma, frames.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _object_mask(
    frame: np.ndarray, obj: dict, gain: np.ndarray, grow: bool, reach: float = 20.0
) -> np.ndarray:
    """Pixels of one object in a frame: its (lit) colour inside its box; `grow` adds the anti-aliased rim
    (and closes small holes)."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = obj["box"]
    x0, y0 = max(int(x0) - 2, 0), max(int(y0) - 2, 0)
    x1, y1 = min(int(np.ceil(x1)) + 3, w), min(int(np.ceil(y1)) + 3, h)
    mask = np.zeros((h, w), np.uint8)
    if x1 <= x0 or y1 <= y0:
        return mask
    lit = np.clip(np.array(vocab.COLOURS[obj["colour"]], np.float32) * gain, 0, 255).astype(np.uint8)
    lab = to_lab(frame[y0:y1, x0:x1])
    want = to_lab(lit[None, None])[0, 0]
    mask[y0:y1, x0:x1] = np.linalg.norm(lab - want, axis=-1) < reach
    return cv2.dilate(mask, np.ones((3, 3), np.uint8)) if grow else mask


def recolour(frames: np.ndarray, truth: dict) -> np.ndarray:
    """Each object painted in another colour the scene allows (one no other object has)."""
    spec = truth["spec"]
    allowed = vocab.allowed_colours(spec["background"], spec["occluder"])
    used = {o["colour"] for o in truth["objects"]}
    spare = [c for c in allowed if c not in used] or allowed
    new = {o["id"]: spare[k % len(spare)] for k, o in enumerate(truth["objects"])}
    out = frames.copy()
    for f, ft in zip(out, truth["frames"], strict=True):
        gain = np.array(ft["light"]["gain"], np.float32)
        for obj in ft["objects"]:
            # The rim keeps its blend of the old colour: too thin to be seen as an object.
            mask = _object_mask(f, obj, gain, grow=False).astype(bool)
            f[mask] = np.clip(np.array(vocab.COLOURS[new[obj["id"]]], np.float32) * gain, 0, 255).astype(
                np.uint8
            )
    return out


def vanish(frames: np.ndarray, truth: dict) -> np.ndarray | None:
    """The object passing behind the occluder never comes out: from the first frame it is fully hidden,
    its pixels are replaced by that frame's (what lies behind it). None if no object goes behind."""
    for i, o in enumerate(truth["objects"]):
        if o["event"] != "pass_behind":
            continue
        visible = np.array([f["objects"][i]["visible"] for f in truth["frames"]])
        seen = np.nonzero(visible > 0.5)[0]
        hidden = [t for t in range(len(visible)) if len(seen) and t > seen[0] and visible[t] < 0.02]
        if not hidden:
            continue
        plate = frames[hidden[0]]
        out = frames.copy()
        for t in range(hidden[0], len(frames)):
            ft = truth["frames"][t]
            mask = _object_mask(
                out[t], ft["objects"][i], np.array(ft["light"]["gain"], np.float32), grow=True
            )
            out[t][mask.astype(bool)] = plate[mask.astype(bool)]
        return out
    return None


def corrupt(name: str, frames: np.ndarray, truth: dict, seed: int = 0) -> np.ndarray | None:
    """Apply the named corruption; None when it does not apply to this clip (vanish without an occluder)."""
    if name == "static":
        return static(frames, truth)
    if name == "shuffle":
        return shuffle(frames, seed)
    if name == "recolour":
        return recolour(frames, truth)
    if name == "mirror":
        return mirror(frames)
    if name == "noise":
        return noise(frames, seed=seed)
    if name == "vanish":
        return vanish(frames, truth)
    raise ValueError(f"unknown corruption {name!r}; valid: {', '.join(CORRUPTIONS)}")


def validity_table(rows: list[dict], mp4: bool = False) -> dict[str, dict[str, float | None]]:
    """Mean score per dimension for ground truth and every corruption, over the given prompt rows.

    `mp4`: also score the ground truth after an H.264 MP4 round trip (row "truth_mp4"), as files are.
    """
    import tempfile
    from pathlib import Path

    from haneul.eval.benchmark import DIMENSIONS, VideoResult, aggregate, evaluate_video
    from haneul.video_io import read_video, write_video
    from haneul.world import render_clip

    names = ("truth", "truth_mp4", *CORRUPTIONS) if mp4 else ("truth", *CORRUPTIONS)
    results: dict[str, list[VideoResult]] = {name: [] for name in names}
    folder = Path(tempfile.mkdtemp())
    for row in rows:
        n = round(row.get("seconds", 4.0) * row.get("fps", 8.0))
        clip = render_clip(row["prompt"], row["width"], row["height"], n, row["fps"], row["seed"])
        variants = {"truth": clip.frames}
        if mp4:
            path = write_video(folder / "clip.mp4", clip.frames, fps=row["fps"])
            variants["truth_mp4"] = read_video(path)[0]
        variants.update({name: corrupt(name, clip.frames, clip.truth, row["seed"]) for name in CORRUPTIONS})
        for name, frames in variants.items():
            if frames is not None:
                results[name].append(evaluate_video(frames, row["prompt"], row["seed"], row["fps"]))
    return {
        name: {dim: agg[dim]["mean"] for dim in (*DIMENSIONS, "overall")}
        for name, agg in ((name, aggregate(rs)) for name, rs in results.items())
    }


def main() -> None:
    from haneul.eval.prompt_set import load_prompts

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="every k-th prompt so that about N are used")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--mp4", action="store_true", help="also score ground truth through an MP4 round trip"
    )
    args = parser.parse_args()
    rows = load_prompts()
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)][: args.limit]
    table = validity_table(rows, mp4=args.mp4)
    if args.json:
        print(json.dumps(table, indent=1))
        return
    dims = list(next(iter(table.values())))
    print(f"{'':10s}" + "".join(f"{d[:10]:>11s}" for d in dims))
    for name, scores in table.items():
        print(f"{name:10s}" + "".join(f"{'-' if v is None else f'{v:.2f}':>11s}" for v in scores.values()))


if __name__ == "__main__":
    main()
