"""Tiny randomly initialised models for fast tests (of this package and of code built on it).

They generate noise-like videos, not pictures, but every stage runs for real: the real text encoder,
VAE, transformer, sampler and file writers.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from haneul.pipeline import ModelSpec, Pipeline

TINY_CARD = """# haneul-tiny (random weights, for tests)

Randomly initialised; it makes noise, not video. Built by `haneul.testing.make_tiny_model`.
"""


def tiny_pipeline(seed: int = 0, text_encoder=None) -> Pipeline:
    from haneul.models.dit import DiT, DiTConfig
    from haneul.models.text_encoder import TextEncoder
    from haneul.models.vae import VAEConfig, VideoVAE

    torch.manual_seed(seed)
    vae = VideoVAE(VAEConfig(latent_channels=4, channels=(8, 8, 16, 16), temporal_levels=2))
    dit = DiT(DiTConfig(in_channels=4, hidden_size=64, depth=2, num_heads=2, text_dim=384, freq_dim=32))
    spec = ModelSpec(
        name="haneul-tiny",
        sizes=[(64, 64), (96, 64), (64, 96)],
        max_side=128,
        fps=[8.0],
        max_frames=17,
        max_seconds=30.0,
        num_steps=3,
        guidance=3.0,
        default_seconds=1.0,
    )
    return Pipeline(vae, dit, text_encoder or TextEncoder.from_dir(), spec, card=TINY_CARD)


def make_tiny_model(folder: str | os.PathLike, seed: int = 0, dtype: str = "fp32") -> Path:
    """Write a tiny random model directory and return its path."""
    folder = Path(folder)
    tiny_pipeline(seed).save_pretrained(folder, dtype=dtype)
    return folder
