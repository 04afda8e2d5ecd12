"""Speed of the procedural world generator (and of the world benchmark's evaluator) on this CPU.

Render speed: random scenes (1 to 4 objects, every event, camera move and light the generator mixes) at
128x128, one process. Two figures:
- `render`: simulate + draw + ground truth (render_scene), the work per frame;
- `stream`: everything `iter_world_clips` does per clip (complete the spec, simulate, render, ground truth,
  detailed and short captions), divided by the frames produced: what training waits on.
The last line reports the stream figure as render_fps (the honest one for training) and eval_fps, the
evaluator's frames/s from MP4 files (decoding included), what `haneul eval world` achieves.

    python bench/world_speed.py [--seconds 10] [--frames 16] [--size 128x128]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from haneul.world import complete_spec, iter_world_clips, render_scene, simulate
from haneul.world.spec import SceneSpec


def render_speed(
    width: int = 128, height: int = 128, num_frames: int = 16, fps: float = 8.0, seconds: float = 10.0
) -> dict:
    """Frames per second of (a) simulate + render_scene and (b) full clip streaming, on random scenes."""
    specs = [
        (complete_spec(SceneSpec(), np.random.default_rng(i), duration=(num_frames - 1) / fps), i)
        for i in range(200)
    ]
    frames, busy, start = 0, 0.0, time.perf_counter()
    for spec, seed in itertools.cycle(specs):
        t = time.perf_counter()
        scene = simulate(spec, width, height, num_frames, fps, seed)
        render_scene(scene)
        busy += time.perf_counter() - t
        frames += num_frames
        if time.perf_counter() - start > seconds / 2:
            break
    render_fps = frames / busy
    stream_frames, start = 0, time.perf_counter()
    for clip in iter_world_clips(0, [(width, height)], [num_frames], fps):
        stream_frames += len(clip.frames)
        if time.perf_counter() - start > seconds / 2:
            break
    stream_fps = stream_frames / (time.perf_counter() - start)
    return {"render_fps": render_fps, "stream_fps": stream_fps, "frames": frames + stream_frames}


def eval_speed(prompts: int = 24) -> dict:
    """Frames per second of the world benchmark (`haneul eval world`) on ground-truth clips of the
    standard prompt set (every k-th prompt, its own size, 4 s at 8 fps), warm: the whole per-video work
    (the world's expectation for the prompt, light and backdrop, detection, tracking, nine scores), with
    frames already decoded; and the same from H.264 MP4 files (decoding included)."""
    import tempfile
    from pathlib import Path

    from haneul.eval.benchmark import evaluate_video
    from haneul.eval.prompt_set import load_prompts
    from haneul.video_io import read_video, write_video
    from haneul.world import render_clip

    rows = load_prompts()
    rows = rows[:: max(1, len(rows) // prompts)][:prompts]
    clips = [render_clip(r["prompt"], r["width"], r["height"], 32, r["fps"], r["seed"]).frames for r in rows]
    for r, frames in zip(
        rows[:3], clips[:3], strict=True
    ):  # warm-up: colour tables are built once per backdrop
        evaluate_video(frames, r["prompt"], r["seed"], r["fps"])
    start = time.perf_counter()
    for r, frames in zip(rows, clips, strict=True):
        evaluate_video(frames, r["prompt"], r["seed"], r["fps"])
    memory = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        paths = [write_video(Path(folder) / f"{k}.mp4", f, fps=8) for k, f in enumerate(clips)]
        start = time.perf_counter()
        for r, path in zip(rows, paths, strict=True):
            frames, fps = read_video(path)
            evaluate_video(frames, r["prompt"], r["seed"], fps)
        files = time.perf_counter() - start
    n = sum(len(f) for f in clips)
    return {"eval_fps": n / memory, "eval_mp4_fps": n / files, "videos": len(rows), "frames": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="wall time budget for the render measurement"
    )
    parser.add_argument("--frames", type=int, default=16, help="frames per clip")
    parser.add_argument("--size", default="128x128")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    r = render_speed(width, height, args.frames, seconds=args.seconds)
    print(f"world render at {width}x{height}, {args.frames}-frame clips, 1 process:")
    print(f"  simulate + render + ground truth: {r['render_fps']:8.0f} frames/s")
    print(f"  full stream (+ spec, captions):   {r['stream_fps']:8.0f} frames/s   (target >= 500)")
    e = eval_speed()
    print(
        f"world benchmark evaluator, {e['videos']} ground-truth clips of the standard set ({e['frames']} frames):"
    )
    print(f"  frames in memory:        {e['eval_fps']:8.0f} frames/s")
    print(
        f"  from MP4 (with decoding): {e['eval_mp4_fps']:7.0f} frames/s   (200 clips of 4 s at 8 fps: {6400 / e['eval_mp4_fps']:.0f} s)"
    )
    print(f"render_fps={r['stream_fps']:.0f} eval_fps={e['eval_mp4_fps']:.0f}")


if __name__ == "__main__":
    main()
