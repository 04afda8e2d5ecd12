"""Generation speed and memory of a 4 s clip at the model's square size, model already loaded.

Also the cost of safety and provenance (prompt moderation, frame check, watermark, C2PA signing) as a
share of the whole: every output pays it, so it must stay small.

    python bench/generate_speed.py [--model DIR] [--seconds 4] [--repeats 3]

Last line: realtime_factor=... peak_rss_mb=...   (video seconds / wall seconds; peak RSS of this process)
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt", default="a red ball bounces on green grass")
    args = parser.parse_args()
    torch.set_num_threads(2)

    from haneul.outputs import save_output
    from haneul.pipeline import load_pipeline
    from haneul.safety.moderation import check_prompt

    pipe = load_pipeline(args.model)
    square = next(((w, h) for w, h in pipe.spec.sizes if w == h), pipe.spec.sizes[0])
    kwargs = {"width": square[0], "height": square[1], "seconds": args.seconds}
    pipe.generate(args.prompt, **kwargs, seed=99)  # warm-up: kernels, caches, the text encoding
    check_prompt(args.prompt)

    gen_s, plain_s, full_s, moderation_s = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            start = time.perf_counter()
            video = pipe.generate(args.prompt, **kwargs, seed=i)
            gen_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            check_prompt(args.prompt)
            moderation_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            save_output(video, Path(tmp) / f"plain{i}.mp4", watermark=False, sign=False)
            plain_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            save_output(video, Path(tmp) / f"full{i}.mp4")
            full_s.append(time.perf_counter() - start)

    video_seconds = len(video.frames) / video.fps
    gen, plain, full, mod = (statistics.median(x) for x in (gen_s, plain_s, full_s, moderation_s))
    wall = gen + full  # what a user waits for: sampling + decoding + checks + watermark + write + sign
    safety = mod + (full - plain)
    print(f"model={pipe.spec.name} size={square[0]}x{square[1]} frames={len(video.frames)} fps={video.fps:g} "
          f"steps={video.metadata['num_steps']} threads={torch.get_num_threads()}")
    print(f"generate_s={gen:.3f} write_plain_s={plain:.3f} write_signed_watermarked_s={full:.3f} moderation_s={mod:.4f}")
    print(f"safety_overhead={100 * safety / (gen + plain - mod):.1f}% (moderation + frame check + watermark + signing)")
    print(f"realtime_factor={video_seconds / wall:.2f} peak_rss_mb={peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
