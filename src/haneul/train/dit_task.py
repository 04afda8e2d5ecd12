"""Training the diffusion transformer with rectified flow on latents of a frozen, trained VAE.

One set of weights for every conditioning mode: each clip draws a mask over its latent frames (none,
first, last, first+last, prefix, suffix, random keyframes); masked frames are given clean with t = 0
and are left out of the loss, so the model learns text-to-video, image-to-video, extension both ways and
interpolation at once. Captions: the detailed caption or the short prompt (recaptioning, DALL-E 3 /
Sora), or the empty prompt with probability `caption_dropout` (the unconditional branch of
classifier-free guidance; the pipeline's default negative prompt is the same empty string).

Flow matching (Liu et al. 2022; Esser et al. 2024): x_t = (1 - t) x0 + t noise, target v = noise - x0, t
from a logit-normal shifted toward noise for larger token counts (the same shift the sampler uses).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from haneul.errors import InputError
from haneul.models.dit import (
    DiT,
    DiTConfig,
    add_pooled_text,
    add_positions,
    add_refiner,
    dit_config,
    grow_depth,
)
from haneul.models.text_encoder import TextEncoder
from haneul.models.vae import VAEConfig, VideoVAE
from haneul.train import card
from haneul.train.config import DiTTrainConfig
from haneul.train.data import Batch, rng_for
from haneul.train.loop import Dist, Trainer, autocast
from haneul.weights import config_from_json, config_to_json, load_config, load_state, save_module
from haneul.world.captions import check_vocabulary_names, swap_one

MASK_MODES = ("none", "first", "last", "first_last", "prefix", "suffix", "keyframes")


def resolve_vae_dir(path: str) -> Path:
    """A VAE folder (config.json + model.safetensors) or a model/run directory with a vae/ subfolder."""
    p = Path(path)
    for candidate in (p / "vae", p):
        if (candidate / "config.json").is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    raise InputError(
        f"vae {path!r} has no trained VAE (config.json + model.safetensors, or a vae/ subfolder)"
    )


def given_mask(mode: str, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Which of `frames` latent frames are given clean; at least one frame is always left to generate."""
    given = np.zeros(frames, dtype=bool)
    if frames == 1 or mode == "none":
        return given
    if mode == "first":
        given[0] = True
    elif mode == "last":
        given[-1] = True
    elif mode == "first_last":
        given[0] = True
        given[-1] = frames >= 3  # with two frames, first+last would leave nothing to generate
    elif mode == "prefix":
        given[: rng.integers(1, frames)] = True
    elif mode == "suffix":
        given[frames - rng.integers(1, frames) :] = True
    elif mode == "keyframes":
        count = rng.integers(1, frames)  # 1 .. frames-1 keyframes anywhere
        given[rng.choice(frames, size=count, replace=False)] = True
    else:
        raise InputError(f"mask mode {mode!r} is not one of {list(MASK_MODES)}")
    return given


def sample_time(rng: np.random.Generator, shift: float) -> float:
    """Logit-normal t (SD3), then shifted: t' = s t / (1 + (s - 1) t), more noise for more tokens."""
    t = 1.0 / (1.0 + math.exp(-rng.normal()))
    return shift * t / (1.0 + (shift - 1.0) * t)


def check_loss_settings(config: DiTTrainConfig) -> None:
    """Clear errors for time shares that would draw t outside [0, 1] or more than all the clips, and for
    a negative object weight."""
    c = config
    if c.object_loss_weight < 0:
        raise InputError(f"object_loss_weight {c.object_loss_weight:g} must be >= 0 (0 = a plain mean)")
    if c.kind_contrast_weight < 0 or c.kind_contrast_margin < 0:
        raise InputError(
            f"kind_contrast_weight {c.kind_contrast_weight:g} and kind_contrast_margin {c.kind_contrast_margin:g} "
            "must be >= 0 (weight 0 = off)"
        )
    check_vocabulary_names(c.contrast_words, "contrast_words")
    if not (0 <= c.low_noise_prob and 0 <= c.high_noise_prob and c.low_noise_prob + c.high_noise_prob <= 1):
        raise InputError(
            f"low_noise_prob {c.low_noise_prob:g} and high_noise_prob {c.high_noise_prob:g} must be >= 0 and "
            "add up to at most 1"
        )
    if not (0 < c.low_noise_max <= 1 and 0 <= c.high_noise_min < 1):
        raise InputError(
            f"low_noise_max {c.low_noise_max:g} must be in (0, 1] and high_noise_min {c.high_noise_min:g} in [0, 1)"
        )


def time_shift(tokens: int) -> float:
    """The sampler's shift for this many tokens per clip (haneul.flow), or SD3's sqrt rule if absent."""
    try:
        from haneul.flow import shift_for_tokens

        return float(shift_for_tokens(tokens))
    except ImportError:
        return math.sqrt(tokens / 256)


def use_checkpointing(model: DiT) -> None:
    """Recompute each block's activations in backward (gradient checkpointing) to save memory."""
    for block in model.blocks:
        block.forward = functools.partial(checkpoint, block.forward, use_reentrant=False)


class DiTTask:
    def __init__(self, config: DiTTrainConfig, d: Dist):
        check_loss_settings(config)
        if config.object_loss_weight and config.data != "world":
            print(
                f"warning: object_loss_weight {config.object_loss_weight:g} has no effect on folder data "
                "(only world clips carry object boxes): the loss is a plain mean"
            )
        if config.kind_contrast_weight and config.data != "world":
            print(
                f"warning: kind_contrast_weight {config.kind_contrast_weight:g} has no effect on folder data "
                "(only world clips carry object boxes)"
            )
        self.config = config
        self.d = d
        self.vae_dir = resolve_vae_dir(config.vae)
        self.vae = load_state(VideoVAE(load_config(VAEConfig, self.vae_dir)), self.vae_dir)
        self.vae = self.vae.eval().requires_grad_(False).to(d.device)
        self.temporal_factor = self.vae.config.temporal_factor
        if self.vae.config.scale_factor == 1.0 and self.vae.config.shift_factor == 0.0:
            print(f"warning: the VAE in {self.vae_dir} has no latent scale/shift (1, 0): did its run finish?")
        self.text = TextEncoder.from_dir(config.text_encoder)
        base = config_to_json(dit_config(config.preset)) if config.preset else {}
        fields = {**base, "in_channels": self.vae.config.latent_channels, "text_dim": self.text.dim}
        self.dit_config = config_from_json(DiTConfig, {**fields, **config.model})
        torch.manual_seed(config.seed)
        self.model = DiT(self.dit_config)
        if config.init:
            init_dir = Path(config.init) / "dit"
            self.dit_config = load_config(DiTConfig, init_dir)  # the architecture comes with the weights
            self.model = load_state(DiT(self.dit_config), init_dir)
            if config.grow_depth:
                self.model = grow_depth(self.model, config.grow_depth)
            if config.add_refiner:
                self.model = add_refiner(self.model, config.add_refiner)
            if config.add_positions:
                self.model = add_positions(self.model, config.add_positions)
            if config.add_pooled_text:
                self.model = add_pooled_text(self.model)
            self.dit_config = self.model.config
        elif config.grow_depth or config.add_refiner or config.add_positions or config.add_pooled_text:
            raise InputError(
                "grow_depth, add_refiner, add_positions and add_pooled_text need init (the model to change); "
                "set model.depth, model.refiner_channels, model.position_bands or model.pooled_text for a new model"
            )
        if config.train_refiner_only:
            if self.model.refiner is None:
                raise InputError("train_refiner_only needs a model with a refiner (add_refiner=N with init)")
            for name, p in self.model.named_parameters():
                p.requires_grad_(name.startswith("refiner."))
        if config.grad_checkpointing:
            use_checkpointing(self.model)
        self.latent_cache: dict[tuple, Tensor] = {}
        self.text_cache: dict[str, Tensor] = {}
        modes = {k: float(v) for k, v in config.masks.items()}
        bad = sorted(set(modes) - set(MASK_MODES))
        if bad or not sum(modes.values()) > 0:
            raise InputError(
                f"masks {bad or modes} invalid; modes are {list(MASK_MODES)} with positive weights"
            )
        self.modes = list(modes)
        self.mode_p = np.asarray(list(modes.values())) / sum(modes.values())

    # -- inputs

    @torch.no_grad()
    def latents(self, batch: Batch) -> Tensor:
        """VAE latents of the batch (frozen encoder, no grad, bf16), from the cache when seen before.

        Without `cache_latents` the cache holds only the latest batch (so `prepare` then `loss` encode once).
        """
        missing = [i for i, k in enumerate(batch.keys) if k not in self.latent_cache]
        if missing:
            if not self.config.cache_latents:
                self.latent_cache.clear()
            with autocast(self.config, self.d.device):
                z = self.vae.encode(batch.video[missing].to(self.d.device)).float()
            for i, zi in zip(missing, z, strict=True):
                self.latent_cache[batch.keys[i]] = zi.to(torch.bfloat16).cpu()
        return torch.stack([self.latent_cache[k].float() for k in batch.keys]).to(self.d.device)

    def prepare(self, batch: Batch) -> None:
        """Encode before the trainer counts a step's FLOPs, so the count is the transformer's alone."""
        self.latents(batch)

    def encode_text(self, prompts: list[str], cached: int | None = None) -> tuple[Tensor, Tensor]:
        """Text features padded to the longest prompt; the first `cached` prompts' (all by default) cached once
        in bf16, the rest (the kind contrast's swapped captions, seen once) encoded each time."""
        cached = len(prompts) if cached is None else cached
        feats = []
        for i, p in enumerate(prompts):
            if p in self.text_cache:
                feats.append(self.text_cache[p])
                continue
            context, mask = self.text.encode([p])
            self.text._cache.clear()  # the encoder's own fp32 cache would double the memory
            feats.append(context[0][mask[0]].to(torch.bfloat16))
            if i < cached:
                self.text_cache[p] = feats[-1]
        length = max(f.shape[0] for f in feats)
        context = torch.zeros(len(feats), length, self.text.dim)
        mask = torch.zeros(len(feats), length, dtype=torch.bool)
        for i, f in enumerate(feats):
            context[i, : f.shape[0]] = f.float()
            mask[i, : f.shape[0]] = True
        return context.to(self.d.device), mask.to(self.d.device)

    def draw(
        self, batch: Batch, step: int, frames: int, tokens: int
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per clip: prompt, given-frame mask and time, each a function of (seed, step, global index)."""
        prompts, given, times = [], [], []
        shift = time_shift(tokens)
        for j, index in enumerate(batch.indices):
            rng = rng_for(self.config.seed, step, 9, index)
            if rng.random() < self.config.caption_dropout:
                prompts.append("")
            elif batch.short_captions[j] and rng.random() < self.config.short_caption_prob:
                prompts.append(batch.short_captions[j])
            else:
                prompts.append(batch.captions[j])
            mode = self.modes[rng.choice(len(self.modes), p=self.mode_p)]
            given.append(given_mask(mode, frames, rng))
            draw = rng.random() if self.config.low_noise_prob or self.config.high_noise_prob else 1.0
            if draw < self.config.low_noise_prob:
                times.append(rng.uniform(0.0, self.config.low_noise_max))
            elif draw < self.config.low_noise_prob + self.config.high_noise_prob:
                times.append(rng.uniform(self.config.high_noise_min, 1.0))
            else:
                times.append(sample_time(rng, shift))
        return prompts, np.stack(given), np.asarray(times, dtype=np.float32)

    # -- the step

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, float], int]:
        x0 = self.latents(batch)  # (B, C, F, H, W)
        b, _, f, h, w = x0.shape
        pt, ph, pw = self.dit_config.patch_size
        tokens = (f // pt) * (h // ph) * (w // pw)
        prompts, given_np, times = self.draw(batch, step, f, tokens)
        contrast = bool(self.config.kind_contrast_weight) and batch.foreground is not None
        others, chosen = self.caption_swaps(step, batch.indices, prompts) if contrast else ([], [])
        context, context_mask = self.encode_text(prompts + others, cached=len(prompts))
        noise = torch.stack([self.noise(step, i, x0.shape[1:]) for i in batch.indices]).to(x0.device)
        given = torch.from_numpy(given_np).to(x0.device)  # (B, F)
        t = torch.from_numpy(times).to(x0.device)[:, None].expand(b, f).clone()
        t[given] = 0.0  # given frames are clean
        tb = t[:, None, :, None, None]
        x_t = (1 - tb) * x0 + tb * noise  # a given frame (t = 0) is exactly x0
        # the swapped captions' clips ride in the same forward pass (one call, as DDP expects)
        rows = torch.tensor(list(range(b)) + chosen, dtype=torch.long, device=x0.device)
        pred_all = model(x_t[rows], t[rows], context, context_mask, given[rows])
        pred = pred_all[:b]
        weight = None
        if self.config.object_loss_weight and batch.foreground is not None:
            weight = 1.0 + self.config.object_loss_weight * latent_grid(batch.foreground, (f, h, w))
        loss = flow_loss(pred, x0, noise, given, weight.to(x0.device) if weight is not None else None)
        parts = {"given_frac": float(given.float().mean()), "t_mean": float(times.mean())}
        if self.config.temporal_loss_weight and f > 1:
            steps = temporal_loss(pred, x0, noise, t)
            parts["temporal"] = float(steps.detach())
            loss = loss + self.config.temporal_loss_weight * steps
        if contrast:
            region = latent_grid(batch.foreground, (f, h, w)).to(x0.device)
            hinge, parts["kind_gap"] = self.kind_hinge(pred, pred_all[b:], chosen, (x0, noise, given, region))
            loss = loss + self.config.kind_contrast_weight * hinge
        return loss, parts, len(rows) * tokens

    def caption_swaps(self, step: int, indices: list[int], prompts: list[str]) -> tuple[list[str], list[int]]:
        """(swapped captions, positions of their clips) for the clips whose caption uses, in English, words of
        `contrast_words` (kinds by default)."""
        # each clip's swap is a function of (seed, step, global index), like its other draws
        others = [
            swap_one(p, self.config.contrast_words, rng_for(self.config.seed, step, 11, index))
            for p, index in zip(prompts, indices, strict=True)
        ]
        chosen = [i for i, (p, o) in enumerate(zip(prompts, others, strict=True)) if o != p]
        return [others[i] for i in chosen], chosen

    def kind_hinge(
        self, pred: Tensor, pred_other: Tensor, chosen: list[int], truth: tuple[Tensor, ...]
    ) -> tuple[Tensor, float]:
        """(hinge loss, mean gap swapped - true): inside the objects' boxes, the loss with the kind words
        swapped must exceed the true caption's by the margin (the config's comment)."""
        if not chosen:
            return pred.sum() * 0.0, 0.0
        pick = torch.tensor(chosen, dtype=torch.long, device=pred.device)
        x0, noise, given, region = (x[pick] for x in truth)
        true_loss = region_loss(pred[pick], x0, noise, given, region)
        other_loss = region_loss(pred_other, x0, noise, given, region)
        hinge = torch.relu(true_loss - other_loss + self.config.kind_contrast_margin).sum() / len(pred)
        return hinge, float((other_loss - true_loss).detach().mean())

    def noise(self, step: int, index: int, shape: torch.Size) -> Tensor:
        seed = int(rng_for(self.config.seed, step, 10, index).integers(2**62))
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed))

    # -- output

    def export(self, ema: nn.Module, out: Path, info: dict) -> None:
        from haneul.train.vae_task import replace_subdir

        save_module(ema, self.dit_config, out / "dit.tmp", dtype="fp32")
        replace_subdir(out / "dit.tmp", out / "dit")
        if self.vae_dir.resolve() != (out / "vae").resolve():
            save_module(self.vae, self.vae.config, out / "vae.tmp", dtype="fp32")
            replace_subdir(out / "vae.tmp", out / "vae")
            vae_card = self.vae_dir.parent / "README.md"
            if vae_card.is_file():  # carry the VAE run's card section over
                for chunk in vae_card.read_text().split("\n<!-- section: ")[1:]:
                    key, _, body = chunk.partition(" -->\n")
                    if key == "vae":
                        card.write_card(out, self.config.name, {"vae": body})
        c = self.config
        card.write_spec(
            out,
            card.model_spec(c, num_steps=c.num_steps, guidance=c.guidance, shift=c.shift, sampler="euler"),
        )
        dc = self.dit_config
        extra = [
            f"- transformer: hidden {dc.hidden_size}, depth {dc.depth}, heads {dc.num_heads}, patch "
            f"{list(dc.patch_size)}, place bands {dc.position_bands}, pooled text {dc.pooled_text}, refiner "
            f"{dc.refiner_channels}; {sum(p.numel() for p in ema.parameters()) / 1e6:.2f} M parameters",
            f"- VAE: {self.vae_dir}; text encoder: {c.text_encoder}",
            f"- caption dropout {c.caption_dropout}, short captions {c.short_caption_prob}, "
            f"conditioning masks {c.masks}",
            f"- loss: object weight {c.object_loss_weight}, high-noise share {c.high_noise_prob}, low-noise share "
            f"{c.low_noise_prob}, kind contrast {c.kind_contrast_weight} (margin {c.kind_contrast_margin})",
        ]
        card.write_card(out, c.name, {"dit": card.training_section("Transformer training", info, c, extra)})


def latent_grid(pixels: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """(B, F, H, W) pixel map (bool or float) -> (B, f, h, w) float on the latent grid: a latent is marked
    if any pixel of the frames and area it encodes is (the causal VAE: latent 0 is frame 0, latent j
    frames 4j-3..4j)."""
    f, h, w = shape
    pixels = pixels.float()  # max pooling needs floats; world box maps are bool
    b, frames = pixels.shape[:2]
    grouped = pixels[:, :1]
    if f > 1:
        tf = (frames - 1) // (f - 1)
        rest = pixels[:, 1:].reshape(b, f - 1, tf, *pixels.shape[2:]).amax(2)
        grouped = torch.cat([grouped, rest], 1)
    return torch.nn.functional.adaptive_max_pool2d(grouped, (h, w))


def squared_error(pred: Tensor, x0: Tensor, noise: Tensor) -> Tensor:
    """(B, F, H, W) squared error to the flow target v = noise - x0, averaged over channels."""
    return (pred.float() - (noise - x0)).pow(2).mean(dim=1)


def region_loss(pred: Tensor, x0: Tensor, noise: Tensor, given: Tensor, region: Tensor) -> Tensor:
    """(B,) mean squared error to v = noise - x0 over the latents marked in `region` (B, F, H, W) of the
    frames to generate; 0 for a clip with none marked."""
    err = squared_error(pred, x0, noise)
    weight = region * (~given).float()[:, :, None, None]
    return (err * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1)


def flow_loss(pred: Tensor, x0: Tensor, noise: Tensor, given: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean squared error to v = noise - x0 over the frames to generate, averaged per clip then over clips.

    Per-clip averaging makes the loss of a global batch independent of how it is split across processes.
    `weight` (B, F, H, W), if given, makes each frame's mean over positions a weighted one.
    """
    err = squared_error(pred, x0, noise)
    if weight is None:
        err = err.mean(dim=(2, 3))  # (B, F)
    else:
        err = (err * weight).sum(dim=(2, 3)) / weight.sum(dim=(2, 3))
    keep = (~given).float()
    return ((err * keep).sum(1) / keep.sum(1).clamp_min(1)).mean()


def temporal_loss(pred: Tensor, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """Mean squared error of the predicted clean latents' steps between neighbouring latent frames, against
    the true steps, averaged per clip then over clips. x0_hat = x_t - t v, so x0_hat - x0 = -t (pred - v) per
    frame (`t` (B, F); 0 on given frames, whose prediction is not used)."""
    err = (pred.float() - (noise - x0)) * t[:, None, :, None, None]
    steps = err[:, :, 1:] - err[:, :, :-1]
    return steps.pow(2).mean(dim=(1, 3, 4)).mean(1).mean()


def add_hooks(trainer: Trainer) -> None:
    """Periodic sample videos and small world-benchmark runs, written next to the checkpoints."""
    from haneul.train.hooks import eval_hook, sample_hook

    c = trainer.config
    trainer.add_hook(c.sample_every, "samples", functools.partial(sample_hook, trainer.task))
    trainer.add_hook(c.eval_every, "benchmark", functools.partial(eval_hook, trainer.task))
