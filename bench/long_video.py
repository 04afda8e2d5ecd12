"""One-minute videos, window by window: wall time, memory against a 4 s clip, and object permanence.

Each duration runs in a fresh subprocess so its peak RSS is its own. Object permanence is scored by the
world benchmark on long prompts whose objects pass behind occluders or leave and come back, across windows.

    python bench/long_video.py [--model DIR] [--seconds 60] [--permanence-prompts 6 --permanence-seconds 12]

Last line: seconds=60 wall_s=... realtime_factor=... peak_rss_mb=... rss_ratio_vs_4s=...
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

LONG_PROMPTS = [
    "a red ball rolls right behind a tree on green grass",
    "a blue box moves left behind a wall in the sky",
    "a yellow star passes behind a box on the sand",
    "an orange heart moves right behind a tree on the snow",
    "a purple ring passes behind a wall on a white background",
    "a green car drives left behind a box on the sand",
    "a red ball and a blue box move right behind a tree on green grass",
    "a white triangle moves left behind a wall at night",
]


def run_one(model: str | None, seconds: float, seed: int) -> dict:
    """Generate one video in this process; report wall time and peak RSS."""
    import torch

    from haneul.pipeline import load_pipeline

    torch.set_num_threads(2)
    pipe = load_pipeline(model)
    square = next(((w, h) for w, h in pipe.spec.sizes if w == h), pipe.spec.sizes[0])
    pipe.generate("a red ball bounces", width=square[0], height=square[1], seconds=1, seed=99)  # warm-up
    start = time.perf_counter()
    video = pipe.generate(
        "a red ball rolls right on green grass", width=square[0], height=square[1], seconds=seconds, seed=seed
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "frames": len(video.frames),
        "fps": video.fps,
        "wall_s": wall,
        "peak_rss_mb": peak,
        "size": square,
    }


def in_subprocess(model: str | None, seconds: float) -> dict:
    cmd = [sys.executable, __file__, "--one", str(seconds)] + (["--model", model] if model else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def permanence(model: str | None, n: int, seconds: float) -> float | None:
    from haneul.eval.benchmark import evaluate_video
    from haneul.pipeline import load_pipeline

    pipe = load_pipeline(model)
    scores = []
    for i, prompt in enumerate(LONG_PROMPTS[:n]):
        video = pipe.generate(prompt, seconds=seconds, seed=i)
        result = evaluate_video(video.frames, prompt, seed=i, fps=video.fps)
        if result.scores.get("permanence") is not None:
            scores.append(result.scores["permanence"])
        print(f"  permanence {result.scores.get('permanence')}  {prompt}", flush=True)
    return sum(scores) / len(scores) if scores else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--permanence-prompts", type=int, default=6)
    parser.add_argument("--permanence-seconds", type=float, default=12.0)
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.model, args.one, seed=0)))
        return

    short = in_subprocess(args.model, 4.0)
    long = in_subprocess(args.model, args.seconds)
    print(f"4s: {json.dumps(short)}")
    print(f"{args.seconds:g}s: {json.dumps(long)}")
    if args.permanence_prompts:
        score = permanence(args.model, args.permanence_prompts, args.permanence_seconds)
        print(
            f"object_permanence={score if score is None else round(score, 3)} "
            f"({args.permanence_prompts} long prompts, {args.permanence_seconds:g}s each)"
        )
    video_s = long["frames"] / long["fps"]
    print(
        f"seconds={args.seconds:g} wall_s={long['wall_s']:.1f} realtime_factor={video_s / long['wall_s']:.2f} "
        f"peak_rss_mb={long['peak_rss_mb']:.0f} rss_ratio_vs_4s={long['peak_rss_mb'] / short['peak_rss_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
