"""Invisible watermark evaluation: detection after each attack, false alarms, PSNR, cost.

    python bench/watermark_eval.py [--videos 100] [--carriers world|synthetic] [--seed 0]

Carriers: procedural-world renders (haneul.world: gradients, flat and textured backgrounds, moving shapes,
camera pans and zooms, light changes) stand in for generated videos until the bundled model exists;
`--carriers synthetic` uses harder stand-ins (strong noise, checker and stripe textures under fast pans).
Sizes cycle through 128x128, 160x96 and 96x160 with 9, 17 and 33 frames at 8 fps.

Each marked video is embedded, written as haneul writes it (H.264 CRF 18), then attacked:
- reencode: decoded and re-encoded with libx264 at CRF 28;
- resize: frames resized to half width and height (INTER_AREA), encoded at CRF 23;
- crop: a random 90% x 90% window (10% of each side removed), encoded at CRF 23.
`detect_*` counts a video as detected when `watermark.detect` says so; `payload_*` when it also reads the
right generation id. The false-positive rate is measured on as many unmarked videos (other seeds), each
tried as stored and after all three attacks. PSNR is between the frames before and after embedding.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from haneul.safety import watermark
from haneul.video_io import read_video, write_video

SIZES = [(128, 128, 17), (160, 96, 9), (96, 160, 33)]


def world_carrier(rng: np.random.Generator, width: int, height: int, frames: int) -> np.ndarray:
    from haneul.world.complete import complete_spec
    from haneul.world.render import render_scene
    from haneul.world.sim import simulate
    from haneul.world.spec import SceneSpec

    for _ in range(20):  # a random spec can be inconsistent; draw another
        try:
            spec = complete_spec(SceneSpec(), rng)
            return render_scene(simulate(spec, width, height, frames, 8.0, int(rng.integers(1 << 30))))
        except ValueError:
            continue
    raise RuntimeError("the world generator failed 20 times in a row")


def synthetic_carrier(rng: np.random.Generator, width: int, height: int, frames: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(angle) + yy * np.sin(angle)) / max(width, height)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    bg = c0 * (1 - t[..., None]) + c1 * t[..., None]
    kind = rng.integers(4)
    if kind == 1:
        s = rng.integers(4, 20)
        bg = bg + 40 * (((xx // s + yy // s) % 2)[..., None] - 0.5)
    elif kind == 2:
        noise = cv2.GaussianBlur(
            rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), rng.uniform(0.5, 3)
        )
        bg = bg + rng.uniform(10, 50) * (noise / (noise.std() + 1e-6))[..., None]
    elif kind == 3:
        bg = bg + 30 * np.sin(xx * rng.uniform(0.1, 1.0) + yy * rng.uniform(0, 0.5))[..., None]
    pan = rng.uniform(-2, 2, 2)
    shapes = [
        (rng.uniform(0, [width, height]), rng.uniform(-4, 4, 2), rng.uniform(5, 25), rng.integers(0, 256, 3))
        for _ in range(rng.integers(1, 5))
    ]
    out = []
    for k in range(frames):
        frame = np.ascontiguousarray(
            np.clip(np.roll(bg, (int(pan[1] * k), int(pan[0] * k)), (0, 1)), 0, 255).astype(np.uint8)
        )
        for p, v, r, colour in shapes:
            cx, cy = (p + v * k).astype(int)
            cv2.circle(frame, (int(cx), int(cy)), int(r), colour.tolist(), -1, cv2.LINE_AA)
        out.append(frame)
    return np.stack(out)


def encode(folder: Path, frames: np.ndarray, crf: int) -> np.ndarray:
    path = folder / "v.mp4"
    write_video(path, frames, fps=8, crf=crf)
    return read_video(path)[0]


def attacks(folder: Path, stored: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    h, w = stored.shape[1:3]
    ch, cw = int(h * 0.9) // 2 * 2, int(w * 0.9) // 2 * 2
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    half = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in stored])
    return {
        "reencode": encode(folder, stored, 28),
        "resize": encode(folder, half, 23),
        "crop": encode(folder, stored[:, y0 : y0 + ch, x0 : x0 + cw], 23),
    }


def measure_cost(carrier, folder: Path, runs: int = 10) -> str:
    """Median wall time of save_output with and without watermark + signature, and of verify, on a 4 s clip."""
    import os

    from haneul.outputs import save_output
    from haneul.pipeline import GeneratedVideo
    from haneul.safety.cli import verify_file

    os.environ.setdefault("HANEUL_KEYS_DIR", str(folder / "keys"))
    os.environ["HANEUL_FRAME_CHECKER"] = "none"  # the frame classifier's cost is measured by its own bench
    clip = carrier(np.random.default_rng(1), 128, 128, 33)
    video = GeneratedVideo(clip, 8.0, "a red ball", "a red ball bounces", 0, "bench", {})
    save_output(video, folder / "warm.mp4")  # keys, caches
    times = {"plain": [], "full": [], "embed": [], "sign": [], "verify": []}
    for _ in range(runs):
        t = time.perf_counter()
        save_output(video, folder / "plain.mp4", watermark=False, sign=False)
        times["plain"].append(time.perf_counter() - t)
        t = time.perf_counter()
        report = save_output(video, folder / "full.mp4")
        times["full"].append(time.perf_counter() - t)
        times["embed"].append(report["timings"]["watermark_s"])
        times["sign"].append(report["timings"]["sign_s"])
        t = time.perf_counter()
        verify_file(folder / "full.mp4")
        times["verify"].append(time.perf_counter() - t)
    ms = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    return (
        f"cost on a 33-frame 128x128 clip (medians of {runs}): save_output {ms['full']:.0f} ms with watermark + C2PA "
        f"vs {ms['plain']:.0f} ms plain (+{ms['full'] - ms['plain']:.0f} ms); embed {ms['embed']:.1f} ms, "
        f"sign {ms['sign']:.1f} ms, haneul verify {ms['verify']:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100, help="marked videos")
    parser.add_argument(
        "--unmarked", type=int, default=None, help="unmarked videos (default: as many as marked)"
    )
    parser.add_argument("--carriers", choices=["world", "synthetic"], default="world")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    carrier = world_carrier if args.carriers == "world" else synthetic_carrier
    unmarked = args.videos if args.unmarked is None else args.unmarked
    try:
        carrier(np.random.default_rng(0), 64, 64, 1)
    except ImportError as e:
        print(f"haneul.world is not available ({e}); using synthetic carriers", file=sys.stderr)
        carrier, args.carriers = synthetic_carrier, "synthetic"
    print(f"carriers: {args.carriers} ({args.videos} marked, {unmarked} unmarked; sizes {SIZES})")
    rng = np.random.default_rng(args.seed)
    hits = {k: [] for k in ("stored", "reencode", "resize", "crop")}
    payload = {k: [] for k in hits}
    psnrs, embed_s, detect_s, clean_scores, false_alarms = [], [], [], [], 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in track(range(args.videos), description="marked videos"):
            width, height, frames = SIZES[i % 3]
            clip = carrier(rng, width, height, frames)
            gid = f"{int(rng.integers(0, 2**63)):016x}{int(rng.integers(0, 2**63)):016x}"
            t = time.perf_counter()
            marked = watermark.embed(clip, gid)
            embed_s.append(time.perf_counter() - t)
            psnrs.append(watermark.psnr(marked, clip))
            stored = encode(folder, marked, 18)
            for name, frames_in in {"stored": stored, **attacks(folder, stored, rng)}.items():
                t = time.perf_counter()
                result = watermark.detect(frames_in)
                detect_s.append(time.perf_counter() - t)
                hits[name].append(result.detected)
                payload[name].append(result.generation_id_prefix == gid[:8])
        cost = measure_cost(carrier, folder)
        for i in track(range(unmarked), description="unmarked videos"):
            width, height, frames = SIZES[i % 3]
            stored = encode(folder, carrier(rng, width, height, frames), 18)
            for frames_in in [stored, *attacks(folder, stored, rng).values()]:
                result = watermark.detect(frames_in)
                clean_scores.append(result.score)
                false_alarms += result.detected
    trials = len(clean_scores)
    print(f"{'attack':10s} {'detected':>9s} {'payload':>8s}")
    for name in hits:
        print(f"{name:10s} {np.mean(hits[name]):9.3f} {np.mean(payload[name]):8.3f}")
    print(
        f"unmarked: {false_alarms}/{trials} detected; sync score max {max(clean_scores):.2f} "
        f"(99th pct {np.percentile(clean_scores, 99):.2f}; thresholds: payload {watermark.Z_PAYLOAD}, sync alone {watermark.Z_SYNC})"
    )
    print(f"psnr: mean {np.mean(psnrs):.2f} dB, min {np.min(psnrs):.2f} dB")
    print(
        f"cost per video: embed {1000 * np.mean(embed_s):.1f} ms mean, detect {1000 * np.mean(detect_s):.1f} ms mean "
        f"({1000 * np.max(detect_s):.1f} max); bench wall {time.perf_counter() - start:.0f} s"
    )
    print(cost)
    print(
        f"detect_reencode={np.mean(hits['reencode']):.3f} detect_resize={np.mean(hits['resize']):.3f} "
        f"detect_crop={np.mean(hits['crop']):.3f} fpr={false_alarms / trials:.4f} psnr_db={np.mean(psnrs):.2f}"
    )


if __name__ == "__main__":
    main()
