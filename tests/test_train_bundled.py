"""The bundled model (slow): it loads with today's code, its VAE still reconstructs the world, it generates.

A guard against drift: the weights were trained with the code of their day, so a change to the VAE or the
transformer that keeps parameter names but changes behaviour would otherwise go unnoticed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from haneul.pipeline import DEFAULT_MODEL_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "haneul.json").is_file(), reason="no bundled model"),
]


def test_bundled_vae_reconstructs_world_clips():
    from haneul.models.vae import VAEConfig, VideoVAE
    from haneul.train.vae_losses import psnr
    from haneul.weights import load_config, load_state
    from haneul.world.clips import render_clip

    folder = DEFAULT_MODEL_DIR / "vae"
    vae = load_state(VideoVAE(load_config(VAEConfig, folder)), folder).eval()
    scores = []
    for seed in range(4):
        clip = render_clip(None, 128, 128, 17, 8.0, 10_000 + seed)
        video = torch.from_numpy(clip.frames).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
        with torch.no_grad():
            scores.append(float(psnr(vae.decode(vae.encode(video)), video)))
    card = (DEFAULT_MODEL_DIR / "README.md").read_text()
    assert np.mean(scores) > 18.0, (scores, card[:200])


def test_bundled_model_generates_its_native_sizes():
    from haneul.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(DEFAULT_MODEL_DIR)
    spec = json.loads((DEFAULT_MODEL_DIR / "haneul.json").read_text())
    for width, height in spec["sizes"]:
        video = pipe.generate(
            "a red ball bounces on green grass", width=width, height=height, num_frames=17, num_steps=4
        )
        assert video.frames.shape == (17, height, width, 3)
        assert video.frames.std() > 5  # not a flat image
