"""Generation speed and memory of a 4 s clip at the model's square size, model already loaded.

Also the cost of safety and provenance (prompt moderation, frame check, watermark, C2PA signing) as a
share of the rest: every output pays it, so it must stay small (issue 7: at most 10%).

    python bench/generate_speed.py [--model DIR] [--seconds 4] [--repeats 3] [--safety-repeats 15]

How the safety share is measured: each part is timed by itself, median of `--safety-repeats` runs on the
last generated clip, so that noise in the few-second generation cannot make it negative:
- moderation: `check_prompt` on the prompt and on the expanded caption (what `Pipeline.generate` runs);
- frame check: `check_frames` with the configured checker (the `frames` extra's NudeNet when installed;
  the line says whether it ran and on how many frames);
- watermark: embedding, plus the extra encoding time of the marked frames (the same clip written with and
  without the mark, alternately);
- signing: the C2PA step of `save_output` (manifest, signature, the signed copy).
The base is the same clip without them: generation minus its moderation, plus a plain write.

Last line: realtime_factor=... peak_rss_mb=...   (video seconds / wall seconds; peak RSS of this process)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def save_seconds(video, path: Path, plain: bool) -> float:
    """Wall time of save_output: with every safety step, or plain (no frame check, mark or signature)."""
    from haneul.outputs import save_output

    saved = os.environ.get("HANEUL_FRAME_CHECKER")
    if plain:
        os.environ["HANEUL_FRAME_CHECKER"] = "none"
    try:
        start = time.perf_counter()
        save_output(video, path, watermark=not plain, sign=not plain)
        return time.perf_counter() - start
    finally:
        if saved is None:
            os.environ.pop("HANEUL_FRAME_CHECKER", None)
        else:
            os.environ["HANEUL_FRAME_CHECKER"] = saved


def safety_parts(video, folder: Path, repeats: int) -> tuple[dict[str, float], dict]:
    """Median seconds of each safety part on `video`, and the frame check's report."""
    from haneul.outputs import save_output
    from haneul.safety import watermark
    from haneul.safety.frames import check_frames
    from haneul.safety.moderation import check_prompt
    from haneul.video_io import write_video

    marked = watermark.embed(video.frames, "0123456789abcdef")
    parts = {k: [] for k in ("moderation", "frame_check", "watermark", "encode_extra", "signing")}
    frame_check = check_frames(video.frames)  # warm: the checker is loaded once per process
    for i in range(repeats):
        parts["moderation"].append(timed(lambda: (check_prompt(video.prompt), check_prompt(video.caption))))
        parts["frame_check"].append(timed(lambda: check_frames(video.frames)))
        parts["watermark"].append(timed(lambda: watermark.embed(video.frames, "0123456789abcdef")))
        plain = timed(lambda: write_video(folder / "plain.mp4", video.frames, fps=video.fps))
        extra = timed(lambda: write_video(folder / "marked.mp4", marked, fps=video.fps))
        parts["encode_extra"].append(extra - plain)
        report = save_output(video, folder / f"signed{i}.mp4", watermark=False, sign=True)
        parts["signing"].append(report["timings"]["sign_s"])
    return {k: statistics.median(v) for k, v in parts.items()}, frame_check.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--safety-repeats", type=int, default=15)
    parser.add_argument("--prompt", default="a red ball bounces on green grass")
    args = parser.parse_args()
    torch.set_num_threads(2)

    from haneul.pipeline import load_pipeline
    from haneul.safety.frames import nudenet_installed

    pipe = load_pipeline(args.model)
    square = next(((w, h) for w, h in pipe.spec.sizes if w == h), pipe.spec.sizes[0])
    kwargs = {"width": square[0], "height": square[1], "seconds": args.seconds}
    # warm-up: kernels, caches, the moderator, the text encoding
    pipe.generate(args.prompt, **kwargs, seed=99)

    gen_s, plain_s, full_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.repeats):
            start = time.perf_counter()
            video = pipe.generate(args.prompt, **kwargs, seed=i)
            gen_s.append(time.perf_counter() - start)
            plain_s.append(save_seconds(video, folder / "plain.mp4", plain=True))
            full_s.append(save_seconds(video, folder / f"full{i}.mp4", plain=False))
        parts, frame_check = safety_parts(video, folder, args.safety_repeats)

    video_seconds = len(video.frames) / video.fps
    gen, plain, full = (statistics.median(x) for x in (gen_s, plain_s, full_s))
    base = gen - parts["moderation"] + plain  # the same clip with no safety step
    safety = sum(parts.values())
    if frame_check["ran"]:
        checked = frame_check["details"]["frames_checked"]
        frames_line = f"{frame_check['checker']} on frames {checked} of {len(video.frames)}"
    else:
        installed = "installed but switched off" if nudenet_installed() else "not installed"
        frames_line = f"did not run (NudeNet {installed}; pip install -e '.[frames]'); not in the overhead"
    print(
        f"model={pipe.spec.name} size={square[0]}x{square[1]} frames={len(video.frames)} fps={video.fps:g} "
        f"steps={video.metadata['num_steps']} threads={torch.get_num_threads()}"
    )
    print(
        f"generate_s={gen:.3f} write_plain_s={plain:.3f} save_output_full_s={full:.3f} (medians of {args.repeats})"
    )
    print(f"frame check: {frames_line}")
    print(
        "safety parts (ms, medians of "
        f"{args.safety_repeats}): "
        + " ".join(f"{k}={1000 * v:.1f}" for k, v in parts.items())
        + f" total={1000 * safety:.1f}"
    )
    print(
        f"safety_overhead={100 * safety / base:.1f}% of {base:.3f} s "
        "(moderation + frame check + watermark + signing, each timed directly)"
    )
    print(f"realtime_factor={video_seconds / (gen + full):.2f} peak_rss_mb={peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
