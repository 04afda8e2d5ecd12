"""Training the causal video VAE: reconstruction losses (haneul.train.vae_losses), optional PatchGAN,
and at the end the latent shift/scale measured on real clips so the transformer sees unit-variance latents.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from haneul.errors import InputError
from haneul.models.vae import VAEConfig, VideoVAE
from haneul.models.vae_convert import with_temporal_factor
from haneul.train import card
from haneul.train.config import VAETrainConfig
from haneul.train.data import Batch, make_data, rng_for
from haneul.train.loop import Dist, autocast
from haneul.train.vae_losses import (
    PatchDiscriminator,
    VAELossWeights,
    discriminator_hinge_loss,
    psnr,
    vae_loss,
)
from haneul.weights import config_from_json, load_config, load_state, save_module


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 101 + rank)


class VAETask:
    def __init__(self, config: VAETrainConfig, d: Dist):
        self.config = config
        self.d = d
        self.vae_config = config_from_json(VAEConfig, dict(config.model))
        self.model = VideoVAE(self.vae_config)
        if config.init:
            init_dir = Path(config.init) / "vae"
            self.vae_config = load_config(VAEConfig, init_dir)
            self.model = load_state(VideoVAE(self.vae_config), init_dir)
            # The only model field init's can be changed in: less time compression, from init's weights.
            if "temporal_factor" in config.model:
                self.model = with_temporal_factor(self.model, int(config.model["temporal_factor"]))
                self.vae_config = self.model.config
        self.temporal_factor = self.vae_config.temporal_factor
        if config.freeze_encoder:
            if not config.init:
                raise InputError("freeze_encoder needs init: the trained VAE whose decoder to fine-tune")
            self.model.encoder.requires_grad_(False)
        self.weights = VAELossWeights(**config.loss)
        self.disc = None
        if config.disc_start >= 0:
            self.disc = PatchDiscriminator().to(d.device)
            self.disc_opt = torch.optim.AdamW(self.disc.parameters(), lr=config.lr, betas=(0.5, 0.9))

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, float], int]:
        video = self.crop(batch, step).to(self.d.device)
        gen = step_generator(self.config.seed, step, self.d.rank)
        recon, mean, logvar = model(video, generator=gen)
        use_disc = self.disc is not None and step >= self.config.disc_start
        fake_logits = None
        weights = self.weights
        if use_disc:
            self.disc.requires_grad_(False)  # the generator's term must not train the discriminator
            fake_logits = self.disc(recon)
        elif weights.adversarial:
            weights = VAELossWeights(**{**weights.__dict__, "adversarial": 0.0})
        # The losses in fp32, outside autocast: SSIM's local variances (E[x^2] - E[x]^2) cancel
        # catastrophically in bf16 and gave -inf/NaN within a few steps.
        with torch.autocast(self.d.device.type, enabled=False):
            total, parts = vae_loss(
                recon.float(),
                video,
                mean.float(),
                logvar.float(),
                weights,
                fake_logits,
                temporal_factor=self.vae_config.temporal_factor,
            )
        parts.pop("total", None)
        parts["psnr"] = float(psnr(recon.detach(), video))
        if use_disc and torch.is_grad_enabled():  # not in the loop's no-grad FLOP count
            parts["disc"] = self.disc_step(video, recon.detach())
        tokens = video.shape[0] * mean.shape[2] * mean.shape[3] * mean.shape[4]  # latent positions
        return total, parts, tokens

    def crop(self, batch: Batch, step: int) -> Tensor:
        """A random crop x crop window per clip (same size for the whole batch), if `crop` is set."""
        size = self.config.crop
        video = batch.video
        if not size or (video.shape[-1] <= size and video.shape[-2] <= size):
            return video
        h, w = min(size, video.shape[-2]), min(size, video.shape[-1])
        out = []
        for clip, index in zip(video, batch.indices, strict=True):
            rng = rng_for(self.config.seed, step, 11, index)
            windows = [
                clip[..., top : top + h, left : left + w]
                for top, left in zip(
                    rng.integers(video.shape[-2] - h + 1, size=max(1, self.config.crop_candidates)),
                    rng.integers(video.shape[-1] - w + 1, size=max(1, self.config.crop_candidates)),
                    strict=True,
                )
            ]
            # The busiest of the candidate windows: small objects on flat backgrounds are a few percent of
            # the pixels, and plain random crops taught the VAE skies and grass but turned objects to grey.
            out.append(max(windows, key=lambda x: float(x.std())))
        return torch.stack(out)

    def disc_step(self, real: Tensor, fake: Tensor) -> float:
        self.disc.requires_grad_(True)
        loss = discriminator_hinge_loss(self.disc(real), self.disc(fake))
        self.disc_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.d.world_size > 1:  # not wrapped in DDP: average its gradients by hand
            for p in self.disc.parameters():
                dist.all_reduce(p.grad)
                p.grad /= self.d.world_size
        self.disc_opt.step()
        return float(loss.detach())

    def extra_state(self) -> dict:
        if self.disc is None:
            return {}
        return {"disc": self.disc.state_dict(), "disc_opt": self.disc_opt.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        if self.disc is not None and state:
            self.disc.load_state_dict(state["disc"])
            self.disc_opt.load_state_dict(state["disc_opt"])

    def export(self, ema: nn.Module, out: Path, info: dict) -> None:
        save_module(ema, ema.config, out / "vae.tmp", dtype="fp32")
        replace_subdir(out / "vae.tmp", out / "vae")
        card.write_spec(out, card.model_spec(self.config))
        vc = ema.config
        extra = [
            f"- VAE: latent channels {vc.latent_channels}, compression {vc.temporal_factor}x time, "
            f"{vc.spatial_factor}x space, widths {list(vc.channels)}; "
            f"{sum(p.numel() for p in ema.parameters()) / 1e6:.2f} M parameters",
            f"- latent shift {vc.shift_factor:.4f}, scale {vc.scale_factor:.4f}",
            f"- loss weights: {self.weights.__dict__}; discriminator from step {self.config.disc_start}",
        ]
        card.write_card(
            out, self.config.name, {"vae": card.training_section("VAE training", info, self.config, extra)}
        )

    @torch.no_grad()
    def finish(self, ema: VideoVAE, out: Path, info: dict) -> dict:
        """Measure the latent mean and std on fresh clips; store them as shift/scale in the exported VAE."""
        if self.config.freeze_encoder:  # same encoder, same statistics: keep the transformer's normalisation
            self.export(ema, out, info)
            return {"shift": ema.config.shift_factor, "scale": ema.config.scale_factor, "kept": True}
        stats = latent_stats(ema, self.config, self.d.device)
        ema.config.shift_factor = stats["shift"]
        ema.config.scale_factor = stats["scale"]
        self.export(ema, out, info)
        return stats


@torch.no_grad()
def latent_stats(vae: VideoVAE, config: VAETrainConfig, device: torch.device) -> dict:
    """Mean and 1/std of the raw posterior means over `latent_stats_clips` clips not used in training."""
    old = vae.config.shift_factor, vae.config.scale_factor
    vae.config.shift_factor, vae.config.scale_factor = 0.0, 1.0
    vae.eval()
    data = make_data(config, vae.config.temporal_factor)
    latents, step = [], 10**7  # far past any training step: clips the run never trained on
    count = 0
    while count < config.latent_stats_clips:
        batch = data.batch(step)
        with autocast(config, device):
            z = vae.encode(batch.video.to(device))
        latents.append(z.float().flatten())
        count += batch.video.shape[0]
        step += 1
    vae.config.shift_factor, vae.config.scale_factor = old
    flat = torch.cat(latents)
    mean, std = float(flat.mean()), float(flat.std())
    return {"shift": mean, "scale": 1.0 / max(std, 1e-6), "std": std, "clips": count}


def replace_subdir(tmp: Path, target: Path) -> None:
    from haneul.train.checkpoint import fsync_tree
    from haneul.weights import replace_dir_atomic

    fsync_tree(tmp)
    replace_dir_atomic(tmp, target)
