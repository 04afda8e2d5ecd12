"""Peak memory and speed of the video VAE on this CPU.

    python bench/vae_memory.py [--config '{"channels": [32, 64, 128]}'] [--threads N]

1. Peak RSS of streaming-decoding 17 and of 241 frames at 128x128 (decode_chunks, each chunk turned into
   uint8 frames and dropped, as a video writer would), each in a fresh subprocess, and their ratio; also
   the peak of one whole-sequence decoder pass over 241 frames, for contrast. Target ratio <= 1.3.
2. Seconds to encode and to decode 33 frames at 128x128 (a 4 s clip at 8 fps), fp32 and bf16 autocast,
   median of a few runs.

Weights are random: neither memory nor time depends on their values.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from haneul.models.vae import VAEConfig, VideoVAE


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(config: VAEConfig, frames: int, mode: str) -> None:
    """Decode `frames` frames at 128x128 once and print RSS figures as JSON (runs in a fresh process)."""
    vae = VideoVAE(config).eval()
    latents = torch.randn(1, config.latent_channels, vae.num_latent_frames(frames), 16, 16)
    baseline = rss_mib()
    start = time.perf_counter()
    count = 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        if mode == "stream":
            for chunk in vae.decode_chunks(latents):
                frames_u8 = ((chunk[0].permute(1, 2, 3, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
                count += len(frames_u8)
        else:  # one whole-sequence pass: what decoding without chunks would hold at once
            count = vae.decoder(latents, {}).shape[2]
    out = dict(frames=count, mode=mode, baseline_mib=round(baseline, 1), peak_mib=round(peak_rss_mib(), 1))
    out["seconds"] = round(time.perf_counter() - start, 3)
    print(json.dumps(out))


def run_child(config_json: str, frames: int, mode: str, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(frames), "--mode", mode, "--threads", str(threads)]
    cmd += ["--config", config_json]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_it(fn, runs: int = 5) -> float:
    fn()  # warm-up: oneDNN picks and caches its kernels on the first call
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(config: VAEConfig) -> None:
    torch.manual_seed(0)
    vae = VideoVAE(config).eval()
    video = torch.rand(1, 3, 33, 128, 128) * 2 - 1
    params = sum(p.numel() for p in vae.parameters()) / 1e6
    print(
        f"params: encoder {sum(p.numel() for p in vae.encoder.parameters()) / 1e6:.2f} M, total {params:.2f} M"
    )
    for name, bf16 in (("fp32", False), ("bf16", True)):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            latents = vae.encode(video)
            enc = time_it(lambda: vae.encode(video))
            dec = time_it(lambda z=latents: vae.decode(z))
            stream = time_it(lambda z=latents: list(vae.decode_chunks(z)))
        print(
            f"33 frames 128x128 {name}: encode {enc:.3f} s, decode {dec:.3f} s, "
            f"decode_chunks (1 latent frame per step) {stream:.3f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", default="{}", help="VAEConfig fields as JSON (default: the default config)"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = VAEConfig(**json.loads(args.config))
    if args.child:
        child(config, args.child, args.mode)
        return
    print(f"config: {json.dumps(json.loads(args.config))} threads: {args.threads}")
    runs = [
        run_child(args.config, n, m, args.threads)
        for n, m in ((17, "stream"), (241, "stream"), (241, "whole"))
    ]
    for r in runs:
        print(
            f"decode {r['frames']:3d} frames 128x128 ({r['mode']}): peak RSS {r['peak_mib']:.0f} MiB "
            f"(process before decoding {r['baseline_mib']:.0f} MiB, decoding added "
            f"{r['peak_mib'] - r['baseline_mib']:.0f} MiB) in {r['seconds']:.2f} s"
        )
    short, long, whole = runs
    ratio = long["peak_mib"] / short["peak_mib"]
    added = (long["peak_mib"] - long["baseline_mib"]) / max(1.0, short["peak_mib"] - short["baseline_mib"])
    whole_ratio = whole["peak_mib"] / short["peak_mib"]
    print(
        f"peak RSS ratio 241/17 streaming: {ratio:.2f} (target <= 1.3); added-by-decoding ratio {added:.2f}"
    )
    print(
        f"peak RSS ratio 241 whole-sequence pass / 17 streaming: {whole_ratio:.2f} (no chunking, for contrast)"
    )
    speed(config)


if __name__ == "__main__":
    main()
