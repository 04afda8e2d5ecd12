"""The VAE trainer: decoder-only fine-tuning keeps the encoder (and so the latents) exactly; init with less
time compression starts from init's weights."""

from __future__ import annotations

import torch
from safetensors.torch import load_file
from test_train_data import make_folder

from haneul.models.vae import VAEConfig, VideoVAE
from haneul.train.runs import train_vae
from haneul.weights import load_config, save_module


def _config_from_init(tmp_path, config: VAEConfig, extra: str):
    """A training config on a small folder, starting from a saved VAE of `config` (tmp_path/init)."""
    save_module(VideoVAE(config), config, tmp_path / "init" / "vae", dtype="fp32")
    yaml = tmp_path / "vae.yaml"
    yaml.write_text(
        f"data: {make_folder(tmp_path / 'data', corrupt=False)}\nout: {tmp_path / 'out'}\n{extra}\n"
        "frame_counts: [1, 9]\nframe_weights: [0.5, 0.5]\nwarmup_steps: 1\nbatch_size: 2\nnum_threads: 1\n"
        f"init: {tmp_path / 'init'}\n"
    )
    return yaml


def test_freeze_encoder_trains_only_the_decoder_and_keeps_latent_stats(tmp_path):
    torch.manual_seed(0)
    config = VAEConfig(latent_channels=4, channels=(8, 8, 16), shift_factor=0.5, scale_factor=0.25)
    train_vae(
        _config_from_init(tmp_path, config, "sizes: [[32, 32], [48, 32], [32, 48]]\nsteps: 3"),
        ["freeze_encoder=true"],
    )
    before = load_file(tmp_path / "init/vae/model.safetensors")
    after = load_file(tmp_path / "out/vae/model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    kept = load_config(VAEConfig, tmp_path / "out/vae")
    assert (kept.shift_factor, kept.scale_factor) == (0.5, 0.25)


def test_init_with_less_time_compression(tmp_path):
    torch.manual_seed(0)
    config = VAEConfig(latent_channels=4, channels=(8, 8, 16), spatial_factor=4, temporal_factor=4)
    train_vae(_config_from_init(tmp_path, config, "sizes: [[32, 32]]\nsteps: 2"), ["model.temporal_factor=2"])
    assert load_config(VAEConfig, tmp_path / "out/vae").temporal_factor == 2
    before = load_file(tmp_path / "init/vae/model.safetensors")
    after = load_file(tmp_path / "out/vae/model.safetensors")
    assert (
        before["encoder.levels.0.1.conv.weight"].shape[1]
        == 2 * after["encoder.levels.0.1.conv.weight"].shape[1]
    )


def test_crop_candidates_pick_the_window_with_the_object():
    from types import SimpleNamespace

    from haneul.train.config import VAETrainConfig
    from haneul.train.vae_task import VAETask

    video = torch.zeros(4, 3, 1, 64, 64)
    video[:, 0, :, 40:50, 44:54] = 1.0  # one small red square on a flat frame
    batch = SimpleNamespace(video=video, indices=list(range(4)))
    task = VAETask.__new__(VAETask)
    task.config = VAETrainConfig(crop=16, crop_candidates=32)
    picked = task.crop(batch, step=0)
    assert picked.shape[-2:] == (16, 16)
    assert all(float(clip[0].max()) == 1.0 for clip in picked)  # every crop holds (part of) the object
    task.config = VAETrainConfig(crop=16, crop_candidates=1)
    plain = task.crop(batch, step=0)
    assert sum(float(clip[0].max()) == 1.0 for clip in plain) < 4  # random windows mostly miss it
