"""Write world clips to disk as a training data set: `export_dataset`.

DATA SET FORMAT (the same layout `haneul train` reads for users' own videos; see docs/dataset.md):

    DIR/metadata.jsonl    one JSON object per line, one line per clip:
        {"file": "videos/000000.mp4",     path relative to DIR; .mp4 video, or .png/.jpg for an image
         "caption": "...",                detailed caption (what the model trains on)
         "short_caption": "...",          a short prompt as a person types it (optional)
         "width": 128, "height": 128, "num_frames": 16, "fps": 8.0,
         "seed": 123,                     world data only: the clip's seed (render_clip reproduces it)
         "truth": "truth/000000.json"}    world data only, optional: per-frame ground truth (render.py)
    DIR/videos/NNNNNN.mp4  H.264 MP4 (yuv420p, so width and height are even)
    DIR/images/NNNNNN.png  one-frame clips
    DIR/truth/NNNNNN.json  ground truth: {"spec", "objects", "occluder", "moments", "frames": [...]}

Clip i has seed `clip_seed(seed, i)`; its size and duration are drawn from the given lists with that seed,
so an export is reproducible clip by clip.
metadata.jsonl is written last and atomically: a folder with one is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from haneul.errors import InputError
from haneul.video_io import AtomicPath, write_image, write_video
from haneul.world.clips import clip_seed, render_clip


def export_dataset(
    out: str | os.PathLike,
    n: int,
    sizes: Sequence[tuple[int, int]] = ((128, 128), (160, 96), (96, 160)),
    seconds: Sequence[float] = (1.0, 2.0, 4.0),
    fps: float = 8.0,
    seed: int = 0,
    images_fraction: float = 0.1,
    truth: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render `n` random clips into `out`; returns the path of metadata.jsonl."""
    _check(n, sizes, seconds, fps, images_fraction)
    out = Path(out)
    for sub in ("videos", "images") + (("truth",) if truth else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        lines.append(_export_one(out, i, sizes, seconds, fps, seed, images_fraction, truth))
        if progress is not None:
            progress(i + 1, n)
    path = out / "metadata.jsonl"
    with AtomicPath(path) as tmp:
        tmp.write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8"
        )
    return path


def _export_one(
    out: Path, i: int, sizes, seconds, fps: float, seed: int, images_fraction: float, truth: bool
) -> dict:
    s = clip_seed(seed, i)
    rng = np.random.default_rng([s, 2])
    width, height = sizes[int(rng.integers(len(sizes)))]
    image = rng.random() < images_fraction
    num_frames = 1 if image else max(2, int(round(float(seconds[int(rng.integers(len(seconds)))]) * fps)))
    clip = render_clip(None, int(width), int(height), num_frames, fps, s)
    name = f"{i:06d}"
    if image:
        file = f"images/{name}.png"
        write_image(out / file, clip.frames[0])
    else:
        file = f"videos/{name}.mp4"
        write_video(out / file, clip.frames, fps=fps)
    line = {
        "file": file,
        "caption": clip.caption,
        "short_caption": clip.short_caption,
        "width": int(width),
        "height": int(height),
        "num_frames": num_frames,
        "fps": fps,
        "seed": s,
    }
    if truth:
        line["truth"] = f"truth/{name}.json"
        with AtomicPath(out / line["truth"]) as tmp:
            tmp.write_text(json.dumps(clip.truth, ensure_ascii=False), encoding="utf-8")
    return line


def _check(n: int, sizes, seconds, fps: float, images_fraction: float) -> None:
    if n < 1:
        raise InputError(f"--n {n} must be at least 1", param="n")
    for w, h in sizes:
        if w % 2 or h % 2 or w < 8 or h < 8:
            raise InputError(
                f"size {w}x{h} must be even and at least 8x8 (H.264 needs even sizes)", param="sizes"
            )
    if not seconds or any(s <= 0 for s in seconds):
        raise InputError(f"--seconds {list(seconds)} must be positive numbers", param="seconds")
    if not fps > 0:
        raise InputError(f"--fps {fps} must be positive", param="fps")
    if not 0 <= images_fraction <= 1:
        raise InputError(
            f"--images-fraction {images_fraction} must be between 0 and 1", param="images_fraction"
        )
