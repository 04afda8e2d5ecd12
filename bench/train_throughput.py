"""Training throughput of the transformer on this CPU: cached latents vs encoding with the VAE on the fly.

One batch of the bundled model's main bucket (128x128, 17 frames, 14 clips -> 5x16x16 latents, 320 tokens
per clip) is rendered by the procedural world; then, interleaved and repeated, we time:

- render: drawing the batch from the world;
- encode: the frozen VAE encoding it (no grad, bf16 autocast), what an uncached step adds;
- step: the DiT training step (forward, loss, backward, AdamW) on the latents, bf16 autocast.

tokens/s = tokens per batch / seconds, for "cached" (step only) and "on the fly" (render + encode + step).
MFU counts the step's FLOPs with torch's FlopCounterMode (forward x 3) against a 2048^2 bf16 matmul measured
in the same run. The CPU is shared: medians of interleaved rounds.

    python bench/train_throughput.py [--preset s] [--rounds 3] [--vae runs/vae-world-s]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from haneul.models.dit import DiT, DiTConfig, dit_config
from haneul.models.vae import VAEConfig, VideoVAE
from haneul.train.config import TrainConfig
from haneul.train.data import Bucket, WorldData
from haneul.weights import config_from_json, config_to_json, load_config, load_state


def matmul_peak(size: int = 2048, reps: int = 8) -> float:
    a, b = torch.randn(size, size, dtype=torch.bfloat16), torch.randn(size, size, dtype=torch.bfloat16)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * size**3 * reps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=14)
    parser.add_argument(
        "--vae", default="", help="a trained VAE dir (default: the default VAEConfig, random)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)

    if args.vae:
        from haneul.train.dit_task import resolve_vae_dir

        folder = resolve_vae_dir(args.vae)
        vae = load_state(VideoVAE(load_config(VAEConfig, folder)), folder)
    else:
        vae = VideoVAE(VAEConfig())
    vae = vae.eval().requires_grad_(False)
    config = config_from_json(
        DiTConfig,
        {
            **config_to_json(dit_config(args.preset)),
            "in_channels": vae.config.latent_channels,
            "text_dim": 384,
        },
    )
    dit = DiT(config)
    opt = torch.optim.AdamW(dit.parameters(), lr=1e-4, foreach=True)
    world = WorldData(
        TrainConfig(batch_size=args.batch, sizes=[[128, 128]], frame_counts=[17], frame_weights=[1]),
        vae.config.temporal_factor,
    )
    bucket = Bucket(128, 128, 17)
    context = torch.randn(args.batch, 48, 384)
    mask = torch.ones(args.batch, 48, dtype=torch.bool)

    def render() -> torch.Tensor:
        return torch.stack(
            [
                torch.from_numpy(world.clip(("b", s), s, bucket)[0]).permute(3, 0, 1, 2).float() / 127.5 - 1
                for s in range(args.batch)
            ]
        )

    def encode(video: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return vae.encode(video).float()

    def step(x0: torch.Tensor) -> None:
        b, _, f = x0.shape[:3]
        t = torch.rand(b, 1).expand(b, f)
        given = torch.zeros(b, f, dtype=torch.bool)
        noise = torch.randn_like(x0)
        x_t = (1 - t[:, None, :, None, None]) * x0 + t[:, None, :, None, None] * noise
        with torch.autocast("cpu", dtype=torch.bfloat16):
            pred = dit(x_t, t, context, mask, given)
        loss = (pred.float() - (noise - x0)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    video = render()
    x0 = encode(video)
    tokens = (
        x0.shape[0]
        * x0.shape[2]
        * (x0.shape[3] // config.patch_size[1])
        * (x0.shape[4] // config.patch_size[2])
    )
    with (
        FlopCounterMode(display=False) as counter,
        torch.no_grad(),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        dit(
            x0,
            torch.rand(x0.shape[0], x0.shape[2]),
            context,
            mask,
            torch.zeros(x0.shape[0], x0.shape[2], dtype=torch.bool),
        )
    step_flops = 3 * counter.get_total_flops()
    step(x0)  # warm-up
    times: dict[str, list[float]] = {"render": [], "encode": [], "step": []}
    peaks = []
    for _ in range(args.rounds):
        for name, fn in (("render", render), ("encode", lambda: encode(video)), ("step", lambda: step(x0))):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        peaks.append(matmul_peak())
    med = {k: statistics.median(v) for k, v in times.items()}
    peak = statistics.median(peaks)
    params = sum(p.numel() for p in dit.parameters()) / 1e6
    print(
        f"DiT preset {args.preset}: {params:.1f} M parameters; batch {x0.shape[0]} x {tuple(x0.shape[1:])} latents = {tokens} tokens"
    )
    for k, v in med.items():
        print(f"  {k:7s} {v:6.2f} s/batch")
    cached = tokens / med["step"]
    fly = tokens / (med["render"] + med["encode"] + med["step"])
    mfu = step_flops / med["step"] / peak
    print(f"  bf16 matmul peak {peak / 1e12:.2f} TFLOP/s; step {step_flops / med['step'] / 1e12:.3f} TFLOP/s")
    print(
        f"train_tok_s_cached={cached:.0f} train_tok_s_on_the_fly={fly:.0f} speedup_cached={cached / fly:.2f}x mfu={mfu:.3f}"
    )


if __name__ == "__main__":
    main()
