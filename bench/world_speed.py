"""Speed of the procedural world generator (and of the world benchmark's evaluator) on this CPU.

Render speed: random scenes (1 to 4 objects, every event, camera move and light the generator mixes) at
128x128, one process. Two figures:
- `render`: simulate + draw + ground truth (render_scene), the work per frame;
- `stream`: everything `iter_world_clips` does per clip (complete the spec, simulate, render, ground truth,
  detailed and short captions), divided by the frames produced: what training waits on.
The last line reports the stream figure as render_fps (the honest one for training) and eval_fps.

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


def eval_speed() -> float | None:
    """Frames per second of the world benchmark's evaluator; None until haneul.eval has one to time."""
    return None


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
    print(f"render_fps={r['stream_fps']:.0f} eval_fps={'n/a' if e is None else f'{e:.0f}'}")


if __name__ == "__main__":
    main()
