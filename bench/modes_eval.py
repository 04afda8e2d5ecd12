"""Every prompt mode of issue 5 measured against its target, with a model (default: the bundled one).

The image and video prompts are the procedural world's ground-truth clips (haneul.world.render_clip) at
the model's square size, so the inputs are real pictures of the world, not the model's own outputs.
For each of several prompts (seed = its index):

- image_to_video: first output frame vs the input image's VAE round trip (PSNR, target >= 30 dB); also
  the last frame with the image at the end.
- extend, extend_backward, join: the largest frame difference across a seam (the fade of the context
  frames and the first step after it) over the median frame difference of the whole output (<= 1.5).
- loop: the difference from the last frame to the first over the median (<= 1.5).
- interpolation: keyframes at 0, 1 and 2 s of a world clip; each output keyframe vs its VAE round trip
  (PSNR >= 30 dB).
- edit: strength 0.3 from the world clip, with the prompt's colour changed. Layout: share of (frame,
  object) pairs where a detected object sits within 10% of the frame's width and height of the world's
  centre (target >= 0.9); colour: the world benchmark's colour score against the edited prompt (>= 0.5,
  i.e. at least 65% of the object's detections read as the new colour).

A target passes only if every prompt meets it (the worst case is compared).

    python bench/modes_eval.py [--model DIR] [--prompts 3] [--steps N] [--only edit,loop,...]

One line per target, then: summary model=... prompts=... steps=... passed=P/T wall_s=...
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from haneul.safety.watermark import psnr  # uint8 frames; inf when equal

# (prompt, the same prompt with the object's colour changed: the edit target)
PROMPTS = [
    ("a red ball rolls right on green grass", "a blue ball rolls right on green grass"),
    ("a yellow star moves left on a white background", "a purple star moves left on a white background"),
    ("an orange box moves right on the snow", "a green box moves right on the snow"),
    ("a pink heart bounces on the sand", "a blue heart bounces on the sand"),
]
PSNR_TARGET = 30.0
SEAM_TARGET = 1.5
LAYOUT_TARGET = 0.9
COLOUR_TARGET = 0.5
EDIT_STRENGTH = 0.3
CLIP_FRAMES = 17  # 2 s at 8 fps: every input clip
HEAD, TAIL = 9, 8  # context frames modes.extend/join give from a 17-frame clip (two latent frames)
# What --only can name; "edit" measures both edit lines (layout and colour).
MODES = (
    "image_to_video",
    "image_at_end",
    "extend",
    "extend_backward",
    "join",
    "loop",
    "interpolation",
    "edit",
)


def round_trip(pipe, frame: np.ndarray) -> np.ndarray:
    """The frame through the VAE alone (encode, decode) as the pipeline does it: the best any mode can do."""
    from haneul.pipeline import to_uint8

    video = torch.from_numpy(frame).float().permute(2, 0, 1)[None, :, None] / 127.5 - 1.0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        decoded = pipe.vae.decode(pipe.vae.encode(video).float())
    return to_uint8(decoded[0].float())[0]


def frame_steps(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between consecutive frames: (F - 1,), step j is frame j -> j + 1."""
    f = frames.astype(np.float32)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


def seam_ratio(frames: np.ndarray, first_step: int, last_step: int) -> float:
    """Largest step in [first_step, last_step] over the median step of the whole clip."""
    steps = frame_steps(frames)
    return float(steps[first_step : last_step + 1].max() / max(np.median(steps), 1e-6))


def loop_ratio(frames: np.ndarray) -> float:
    steps = frame_steps(frames)
    wrap = np.abs(frames[0].astype(np.float32) - frames[-1].astype(np.float32)).mean()
    return float(wrap / max(np.median(steps), 1e-6))


def layout_share(edited: np.ndarray, truth_frames: list[dict], prompt: str) -> float:
    """Share of (frame, visible object) pairs with a detection within 10% of the frame of the world's centre."""
    from haneul.eval.benchmark import detect_video
    from haneul.eval.detect import estimate_light
    from haneul.world import parse_prompt

    occluder = parse_prompt(prompt).occluder
    detections = detect_video(edited, estimate_light(edited, occluder=occluder), occluder)
    h, w = edited.shape[1:3]
    hits = []
    for frame, dets in zip(truth_frames, detections, strict=True):
        for obj in frame["objects"]:
            if obj["visible"] < 0.5:
                continue
            x, y = obj["centre"]
            hits.append(any(abs(d.x - x) <= 0.1 * w and abs(d.y - y) <= 0.1 * h for d in dets))
    return float(np.mean(hits)) if hits else 0.0


def measure_edit(pipe, clip, world, prompt: str, edited_prompt: str, seed: int, common: dict) -> dict:
    """The edit at EDIT_STRENGTH to the prompt with the colour changed: layout, colour and their controls."""
    from haneul.eval.benchmark import evaluate_video
    from haneul.pipeline import to_uint8

    m: dict = {}
    fps = pipe.spec.fps[0]
    out = pipe.generate(
        edited_prompt, init_video=clip, strength=EDIT_STRENGTH, num_frames=CLIP_FRAMES, **common
    ).frames
    m["edit_layout"] = layout_share(out, world.truth["frames"][:CLIP_FRAMES], prompt)
    # Control: the same check on the source's VAE round trip, the best any output of this VAE can do.
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        video = torch.from_numpy(clip).float().permute(3, 0, 1, 2)[None] / 127.5 - 1.0
        decoded = pipe.vae.decode(pipe.vae.encode(video).float())
    m["round_trip_layout"] = layout_share(
        to_uint8(decoded[0].float()), world.truth["frames"][:CLIP_FRAMES], prompt
    )
    m["edit_colour"] = evaluate_video(out, edited_prompt, seed=seed, fps=fps).scores["colour"] or 0.0
    # The check must tell: the unedited clip scored against the edited prompt (should be 0).
    m["source_colour"] = evaluate_video(clip, edited_prompt, seed=seed, fps=fps).scores["colour"] or 0.0
    return m


def measure_prompt(
    pipe, prompt: str, edited_prompt: str, seed: int, steps: int | None, only: set[str] = frozenset(MODES)
) -> dict:
    """The modes in `only` on one prompt's world clip; returns the measured values."""
    from haneul import modes
    from haneul.world import render_clip

    size = next(((w, h) for w, h in pipe.spec.sizes if w == h), pipe.spec.sizes[0])
    fps = pipe.spec.fps[0]
    common = dict(width=size[0], height=size[1], num_steps=steps, seed=seed)
    world = render_clip(prompt, size[0], size[1], 2 * CLIP_FRAMES + 15, fps, seed)
    clip, later = world.frames[:CLIP_FRAMES], world.frames[-CLIP_FRAMES:]
    m: dict = {}

    image = clip[0]
    if "image_to_video" in only:
        out = modes.image_to_video(pipe, prompt, image, num_frames=CLIP_FRAMES, **common).frames
        m["i2v_psnr"], m["i2v_raw_psnr"] = psnr(out[0], round_trip(pipe, image)), psnr(out[0], image)
    if "image_at_end" in only:
        out = modes.image_to_video(pipe, prompt, image, at_end=True, num_frames=CLIP_FRAMES, **common).frames
        m["i2v_end_psnr"] = psnr(out[-1], round_trip(pipe, image))

    n = CLIP_FRAMES
    if "extend" in only:
        out = modes.extend(pipe, prompt, clip, seconds=2.0, **common).frames
        m["extend_seam"] = seam_ratio(out, n - HEAD - 1, n)  # into the fade ... first new step
    if "extend_backward" in only:
        out = modes.extend(pipe, prompt, clip, seconds=2.0, backward=True, **common).frames
        new = len(out) - n
        m["backward_seam"] = seam_ratio(out, new - 1, new + TAIL)  # last new step ... out of the fade
    if "join" in only:
        out = modes.join(pipe, prompt, clip, later, seconds=1.0, **common).frames
        b_start = len(out) - n
        m["join_seam"] = max(seam_ratio(out, n - HEAD - 1, n), seam_ratio(out, b_start - 1, b_start + TAIL))
    if "loop" in only:
        m["loop_seam"] = loop_ratio(modes.loop(pipe, prompt, num_frames=CLIP_FRAMES, **common).frames)

    if "interpolation" in only:
        keys = [(clip[0], 0.0), (clip[8], 1.0), (clip[16], 2.0)]
        out = modes.keyframes(pipe, prompt, keys, fps=fps, **common).frames
        m["keyframe_psnr"] = min(psnr(out[round(t * fps)], round_trip(pipe, f)) for f, t in keys)
        m["keyframe_raw_psnr"] = min(psnr(out[round(t * fps)], f) for f, t in keys)

    if "edit" in only:
        m.update(measure_edit(pipe, clip, world, prompt, edited_prompt, seed, common))
    return m


def report(rows: list[dict]) -> list[bool]:
    """Print one line per measured target; return pass/fail of each."""

    def col(key: str) -> np.ndarray:
        return np.array([r[key] for r in rows])

    def line(name: str, key: str, unit: str, target: float, higher: bool, note=lambda: "") -> bool:
        values = col(key)
        worst = values.min() if higher else values.max()
        ok = bool(worst >= target if higher else worst <= target)
        sign = ">=" if higher else "<="
        print(
            f"{name:<16} {unit}: worst={worst:.2f} mean={values.mean():.2f} (n={len(values)}) "
            f"target {sign} {target:g}  {'PASS' if ok else 'FAIL'}{note()}",
            flush=True,
        )
        return ok

    # (name, key, unit, target, higher is better, note): notes are callables, read only when measured
    lines = [
        (
            "image_to_video",
            "i2v_psnr",
            "first_frame_psnr_db",
            PSNR_TARGET,
            True,
            lambda: f" (vs the raw input: mean {col('i2v_raw_psnr').mean():.2f} dB)",
        ),
        ("image_at_end", "i2v_end_psnr", "last_frame_psnr_db", PSNR_TARGET, True, lambda: ""),
        ("extend", "extend_seam", "seam_ratio", SEAM_TARGET, False, lambda: ""),
        ("extend_backward", "backward_seam", "seam_ratio", SEAM_TARGET, False, lambda: ""),
        ("join", "join_seam", "seam_ratio", SEAM_TARGET, False, lambda: ""),
        ("loop", "loop_seam", "last_to_first_ratio", SEAM_TARGET, False, lambda: ""),
        (
            "interpolation",
            "keyframe_psnr",
            "keyframe_psnr_db",
            PSNR_TARGET,
            True,
            lambda: f" (vs the raw keyframes: worst {col('keyframe_raw_psnr').min():.2f} dB)",
        ),
        (
            "edit_layout",
            "edit_layout",
            "centres_within_10pct",
            LAYOUT_TARGET,
            True,
            lambda: f" (the source's VAE round trip: mean {col('round_trip_layout').mean():.2f})",
        ),
        (
            "edit_colour",
            "edit_colour",
            "colour_score",
            COLOUR_TARGET,
            True,
            lambda: f" (unedited clip: mean {col('source_colour').mean():.2f})",
        ),
    ]
    return [line(*spec) for spec in lines if spec[1] in rows[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument(
        "--prompts", type=int, default=3, help=f"how many world prompts (up to {len(PROMPTS)})"
    )
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--only",
        default=",".join(MODES),
        help=f"comma-separated modes to run (default: all): {', '.join(MODES)}",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    if not only <= set(MODES):
        parser.error(f"--only: unknown mode(s) {sorted(only - set(MODES))}; choose from {', '.join(MODES)}")

    from haneul.pipeline import load_pipeline

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    pipe = load_pipeline(args.model)
    rows = []
    for i, (prompt, edited) in enumerate(PROMPTS[: args.prompts]):
        rows.append(measure_prompt(pipe, prompt, edited, seed=i, steps=args.steps, only=only))
        print(f"  {prompt!r}: " + " ".join(f"{k}={v:.2f}" for k, v in rows[-1].items()), flush=True)
    passed = report(rows)
    print(
        f"summary model={pipe.spec.name} prompts={len(rows)} steps={args.steps or pipe.spec.num_steps} "
        f"passed={sum(passed)}/{len(passed)} wall_s={time.perf_counter() - start:.1f}"
    )


if __name__ == "__main__":
    main()
