"""Throughput of haneul's DiT against diffusers' WanTransformer3DModel, side by side, on this CPU.

Both models are built from config (nothing downloaded) at the same width, depth, heads, MLP size, text
length and token count, and run under bf16 autocast with fp32 master weights:

- training step: forward + MSE loss + backward + AdamW step (fused=True for both), on 8 clips of 5x16x16
  latents (patch 1x2x2 -> 320 tokens each, DESIGN.md section 6);
- inference: a no-grad forward on 2 clips of 9x16x16 latents (576 tokens each: one sampling step of a
  4 s 128x128 clip with classifier-free guidance, i.e. cond + uncond in one batch);
- once, a whole CFG sampling run of one such clip through haneul.flow.sample (our model only).

Measurements are interleaved (ours, peak matmul, theirs, then theirs, ours, peak ...) because the two CPU
cores are shared with other work: times are medians over rounds, and the speed ratios and MFU are medians
of per-round ratios (each pair measured seconds apart under similar load). The load average is printed so
a contended run can be recognised. FLOPs are counted per model: every nn.Linear as it runs (forward hooks)
plus the attention products QK^T and PV, x3 for forward + backward. MFU is our training step's FLOP/s over
the 2048x2048 bf16 matmul rate measured next to it.

    python bench/dit_throughput.py [--preset s] [--rounds 5] [--reps 2] [--threads N] [--steps 16] [--compile]

Results, preset "s" (14.3 M), 2026-11-22. No quiet moment was available: other engineers' jobs kept the
load average at 6-20 on 2 cores, so absolute times are several times slower than an idle machine's, and
two-thread OpenMP runs suffer most (every op waits for both threads to be scheduled).
- 1 thread, load ~10: train 1442 tok/s, infer 3726 tok/s, vs diffusers 1.63x train / 1.74x infer,
  MFU 0.60 (of the one-thread matmul rate); earlier 1-thread run at load ~18: 1.70x / 1.87x, MFU 0.60.
- 2 threads, load 8-12: vs diffusers 1.47x train / 2.54x infer; load ~15: 1.53x / 1.10x. MFU 0.08-0.10:
  not meaningful under that contention (steps took 10-20 s instead of well under 1 s).
- The very first version (flash SDPA, RMSNorm qk-norm, GELU MLP, hidden 384) measured on a nearly idle
  machine (load 0.3): 1.04x / 1.06x, MFU 0.39; everything since made ours faster, per the profiles.
- --compile (torch.compile of the whole model, 1 thread): 483 s of compilation under load, then 1.52x /
  1.59x, i.e. no better than eager; not used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from haneul.flow import sample, shift_for_tokens, timesteps
from haneul.guidance import guided_velocity
from haneul.models.dit import DiT, DiTConfig, count_parameters, dit_config

TEXT_LEN = 64  # tokens of a detailed caption from all-MiniLM-L6-v2
TRAIN_BATCH, TRAIN_GRID = 8, (5, 16, 16)
INFER_BATCH, INFER_GRID = 2, (9, 16, 16)


def matmul_peak(size: int = 2048, reps: int = 5) -> float:
    """FLOP/s of a size x size bf16 matmul (best of 3 bursts)."""
    a = torch.randn(size, size, dtype=torch.bfloat16)
    b = torch.randn(size, size, dtype=torch.bfloat16)
    a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * reps / best


def forward_flops(model: torch.nn.Module, call, inp: dict, config: DiTConfig) -> float:
    """Matmul FLOPs (2 per multiply-add) of one forward: every nn.Linear as it runs, counted by hooks, plus
    the attention products QK^T and PV (self: N x N per clip, cross: N x text per clip) per block."""
    total = 0.0

    def count(module, args, out):
        nonlocal total
        total += 2 * args[0].numel() * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        call(model, inp)
    for h in hooks:
        h.remove()
    b, _, f, hh, ww = inp["latents"].shape
    pt, ph, pw = config.patch_size
    n = f // pt * hh // ph * ww // pw
    per_block = 2 * 2 * b * n * (n + TEXT_LEN) * config.hidden_size
    return total + config.depth * per_block


def build_wan(config: DiTConfig):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=config.patch_size,
        num_attention_heads=config.num_heads,
        attention_head_dim=config.hidden_size // config.num_heads,
        in_channels=config.in_channels,
        out_channels=config.in_channels,
        text_dim=config.text_dim,
        freq_dim=config.freq_dim,
        ffn_dim=int(config.hidden_size * config.mlp_ratio),
        num_layers=config.depth,
    )


def make_inputs(config: DiTConfig, batch: int, grid: tuple[int, int, int], seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    frames = grid[0]
    return {
        "latents": torch.randn(batch, config.in_channels, *grid, generator=g),
        "t": torch.rand(batch, generator=g),
        "context": torch.randn(batch, TEXT_LEN, config.text_dim, generator=g),
        "target": torch.randn(batch, config.in_channels, *grid, generator=g),
        "frames": frames,
    }


def ours_call(model: DiT, inp: dict) -> torch.Tensor:
    b, f = inp["latents"].shape[0], inp["frames"]
    t = inp["t"][:, None].expand(b, f)
    mask = torch.ones(b, TEXT_LEN, dtype=torch.bool)
    given = torch.zeros(b, f, dtype=torch.bool)
    return model(inp["latents"], t, inp["context"], mask, given)


def wan_call(model, inp: dict) -> torch.Tensor:
    return model(inp["latents"], inp["t"] * 1000, inp["context"], return_dict=False)[0]


def train_step(call, model, optimizer, inp: dict) -> None:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = call(model, inp)
    F.mse_loss(out.float(), inp["target"]).backward()
    optimizer.step()


@torch.inference_mode()
def infer_step(call, model, inp: dict) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        call(model, inp)


def sample_seconds(model: DiT, config: DiTConfig, steps: int) -> float:
    """Wall time of haneul.flow.sample with classifier-free guidance on one clip of INFER_GRID latents."""
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(1, config.in_channels, *INFER_GRID, generator=g)
    context, neg = torch.randn(1, TEXT_LEN, config.text_dim), torch.randn(1, 2, config.text_dim)
    mask, neg_mask = torch.ones(1, TEXT_LEN, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    given = torch.zeros(1, INFER_GRID[0], dtype=torch.bool)

    @torch.inference_mode()
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 5.0).float()

    n = INFER_GRID[0] * INFER_GRID[1] * INFER_GRID[2] // 4
    start = time.perf_counter()
    sample(velocity, noise, timesteps(steps, shift_for_tokens(n)))
    return time.perf_counter() - start


def timed(fn, reps: int, *args) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn(*args)
    return (time.perf_counter() - start) / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="s")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds")
    parser.add_argument("--reps", type=int, default=2, help="steps per measurement")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile our model (measures compile time)"
    )
    parser.add_argument("--steps", type=int, default=16, help="sampling steps for the clip timing")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    torch.manual_seed(0)
    config = dit_config(args.preset)
    ours, wan = DiT(config), build_wan(config)
    print(f"config {config}")
    print(
        f"params: ours {count_parameters(ours) / 1e6:.2f} M, diffusers Wan {count_parameters(wan) / 1e6:.2f} M"
    )
    ours_fn = ours
    if args.compile:
        ours_fn = torch.compile(ours)
    train_in = make_inputs(config, TRAIN_BATCH, TRAIN_GRID)
    infer_in = make_inputs(config, INFER_BATCH, INFER_GRID)
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=1e-4, fused=True)
    opt_wan = torch.optim.AdamW(wan.parameters(), lr=1e-4, fused=True)

    plain = {"ours": (ours, ours_call), "diffusers": (wan, wan_call)}
    train_flops = {name: 3 * forward_flops(m, call, train_in, config) for name, (m, call) in plain.items()}
    infer_flops = {name: forward_flops(m, call, infer_in, config) for name, (m, call) in plain.items()}
    sides = {
        "ours": (ours_fn, ours_call, opt_ours),
        "diffusers": (wan, wan_call, opt_wan),
    }
    for name, (model, call, opt) in sides.items():  # warm-up (and compile, when asked)
        start = time.perf_counter()
        train_step(call, model, opt, train_in)
        infer_step(call, model, infer_in)
        print(f"warm-up {name}: {time.perf_counter() - start:.1f} s")

    print(f"load average before: {os.getloadavg()}")
    results = {(name, kind): [] for name in sides for kind in ("train", "infer")}
    peaks = []
    for r in range(args.rounds):
        order = list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]
        for name, (model, call, opt) in order:
            results[name, "train"].append(timed(train_step, args.reps, call, model, opt, train_in))
            results[name, "infer"].append(timed(infer_step, args.reps, call, model, infer_in))
            if name == "ours":
                peaks.append(matmul_peak())
    print(f"load average after: {os.getloadavg()}")
    peak = statistics.median(peaks)

    train_tokens = TRAIN_BATCH * train_in["latents"][0, 0].numel() // 4  # patch 1x2x2
    infer_tokens = INFER_BATCH * infer_in["latents"][0, 0].numel() // 4
    med = {k: statistics.median(v) for k, v in results.items()}
    for name in sides:
        tr, inf = med[name, "train"], med[name, "infer"]
        print(
            f"{name:10s} train {tr * 1000:7.1f} ms/step {train_tokens / tr:8.0f} tok/s "
            f"{train_flops[name] / tr / 1e12:.3f} TFLOP/s | infer {inf * 1000:7.1f} ms {infer_tokens / inf:8.0f} tok/s "
            f"{infer_flops[name] / inf / 1e12:.3f} TFLOP/s"
        )
    print(f"bf16 2048x2048 matmul peak {peak / 1e12:.3f} TFLOP/s")
    print(
        f"sampling a 4 s 128x128 clip (9x16x16 latents), {args.steps} Euler steps with CFG: "
        f"{sample_seconds(ours, config, args.steps):.2f} s (our DiT only, no VAE or text encoder)"
    )
    train_tok_s = train_tokens / med["ours", "train"]
    infer_tok_s = infer_tokens / med["ours", "infer"]

    # Ratios are paired per round (measured seconds apart, under similar load), then the median is taken.
    def paired(kind: str) -> float:
        pairs = zip(results["diffusers", kind], results["ours", kind], strict=True)
        return statistics.median(theirs / ours for theirs, ours in pairs)

    vs_train, vs_infer = paired("train"), paired("infer")
    mfu = statistics.median(
        train_flops["ours"] / t / p for t, p in zip(results["ours", "train"], peaks, strict=True)
    )
    print(
        f"train_tok_s={train_tok_s:.0f} infer_tok_s={infer_tok_s:.0f} vs_diffusers_train={vs_train:.2f}x "
        f"vs_diffusers_infer={vs_infer:.2f}x mfu={mfu:.3f}"
    )


if __name__ == "__main__":
    main()
