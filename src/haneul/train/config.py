"""Training configurations: one dataclass per trainer, read from a YAML file, every field overridable.

`haneul train vae configs/vae-world-s.yaml --set lr=2e-4 --set model.latent_channels=8` reads the YAML
into the dataclass, then applies each `--set key=value` (the value parsed as YAML, so numbers, lists and
booleans work; `model.x` and `loss.x` reach inside the dict fields). Unknown keys are an error naming
the valid ones, never silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from haneul.errors import InputError


@dataclass
class TrainConfig:
    """Fields shared by the VAE and the transformer trainers."""

    out: str = "runs/model"  # output: a loadable model directory, plus checkpoint/ and logs
    name: str = "haneul-model"  # model name written to haneul.json
    # Data: "world" streams the procedural world in-process; anything else is a folder holding
    # metadata.jsonl (the layout `haneul world export` writes), the user's own videos and images.
    data: str = "world"
    sizes: list = field(default_factory=lambda: [[128, 128], [160, 96], [96, 160]])  # (width, height) buckets
    # Clip lengths: 1 + k * the VAE's time compression (checked against the VAE at start); 1 = an image.
    frame_counts: list = field(default_factory=lambda: [17, 33, 1])
    frame_weights: list = field(default_factory=lambda: [0.6, 0.25, 0.15])  # how often each length is drawn
    fps: float = 8.0  # frames per second the clips are rendered/resampled at
    world_pool: int = 0  # 0 = endless fresh world clips; N = reuse a pool of N clips per bucket (cacheable)
    cache_frames: bool = False  # keep the pool's rendered frames in RAM (uint8) instead of re-rendering
    # Batch: `batch_size` clips for the largest bucket; smaller buckets (fewer frames, fewer pixels) get
    # proportionally more clips, so every step costs about the same. Global over all processes.
    batch_size: int = 8
    max_batch_size: int = 64  # cap for one-frame buckets
    steps: int = 1000  # total optimizer steps (sets the cosine schedule's length)
    max_minutes: float = 0.0  # stop (and save) after this much wall time in this run; 0 = no limit
    lr: float = 3e-4  # peak learning rate (AdamW)
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100  # linear warmup from 0
    weight_decay: float = 0.01
    betas: list = field(default_factory=lambda: [0.9, 0.99])
    grad_clip: float = 1.0  # max global gradient norm
    ema_decay: float = 0.999  # EMA of the weights; the EMA is what gets saved as the model
    bf16: bool = True  # bf16 autocast (CPU avx512_bf16/AMX, CUDA); master weights stay fp32
    grad_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% slower
    strategy: str = "ddp"  # under torchrun: "ddp" or "fsdp" (shards weights and optimizer state)
    seed: int = 0  # every random choice (data, noise, masks) derives from (seed, step, sample)
    num_threads: int = 0  # torch CPU threads per process; 0 = leave torch's default
    log_every: int = 10  # steps between JSONL log lines
    save_every: int = 200  # steps between checkpoints
    save_every_minutes: float = 10.0  # also checkpoint when this much time passed since the last save
    sample_every: int = 0  # steps between sample videos (needs haneul.pipeline); 0 = never
    eval_every: int = 0  # steps between small world-benchmark runs (needs haneul.eval); 0 = never
    eval_prompts: int = 8  # prompts in that small benchmark run
    model: dict = field(default_factory=dict)  # fields of the network's config dataclass
    # Start from the weights of this model directory (e.g. the bundled model) instead of a random
    # initialisation; the optimizer starts fresh. Ignored on --resume (the checkpoint has the weights).
    init: str = ""


@dataclass
class VAETrainConfig(TrainConfig):
    name: str = "haneul-vae"
    loss: dict = field(default_factory=dict)  # weights passed to haneul.train.vae_losses.vae_loss
    disc_start: int = -1  # step at which the patch discriminator starts; -1 = no discriminator
    latent_stats_clips: int = 64  # clips used to measure the latent shift/scale at the end
    crop: int = 0  # train on random crop x crop windows of each clip (the VAE is convolutional); 0 = whole
    crop_candidates: int = 1  # draw this many crop windows and train on the one with most detail (pixel std)
    # Train only the decoder (with `init`): the latents, and a transformer trained on them, stay valid
    # while the reconstructions improve (as Stable Diffusion's ft-MSE decoder did). Keeps shift/scale.
    freeze_encoder: bool = False


@dataclass
class DiTTrainConfig(TrainConfig):
    name: str = "haneul-dit"
    vae: str = "runs/vae"  # directory of the trained VAE (its vae/ subfolder, or a full model dir)
    preset: str = ""  # DiT size preset name from haneul.models.dit; `model` fields override it
    text_encoder: str = "all-minilm-l6-v2"  # name or local directory, see haneul.models.text_encoder
    caption_dropout: float = 0.1  # fraction of clips trained with the empty prompt (the unconditional)
    short_caption_prob: float = 0.4  # fraction of captions that are the short prompt, not the detailed one
    # fraction of clips whose time is drawn uniformly in [0, low_noise_max] instead of from the logit-normal,
    # which rarely draws t < 0.05: a model that never learnt small noise leaves it as per-frame texture
    # (docs/modes.md, seams)
    low_noise_prob: float = 0.0
    low_noise_max: float = 0.15
    # fraction of clips whose time is drawn uniformly in [high_noise_min, 1]: the shifted logit-normal puts
    # ~0.2% of clips above t = 0.97, so a model can learn to read the picture out of the little signal left in
    # x_t and never learn to draw it from the text alone, which is what the sampler's first steps from pure
    # noise ask (the bundled model's loss at t = 1 with its caption was no better than the latents' variance)
    high_noise_prob: float = 0.0
    high_noise_min: float = 0.9
    # With `init`: a deeper transformer than init's, new blocks starting as the identity between the old ones
    # (haneul.models.dit.grow_depth), so training continues the same function with more capacity. 0 = init's.
    grow_depth: int = 0
    # With `init`: add a convolutional refiner of this width after init's transformer (haneul.models.dit.
    # add_refiner; it starts as a no-op). 0 = none added. A new model sets model.refiner_channels instead.
    add_refiner: int = 0
    # With `init`: let init's transformer see where each token sits in the frame (haneul.models.dit.
    # add_positions, this many octaves; it starts as a no-op). 0 = none added. A new model sets
    # model.position_bands instead.
    add_positions: int = 0
    # With `init`: add the caption's pooled sentence features to init's time embedding (haneul.models.dit.
    # add_pooled_text; it starts as a no-op). A new model sets model.pooled_text instead.
    add_pooled_text: bool = False
    # Train the refiner alone, the transformer frozen: its backward pass is skipped, so steps are faster,
    # and the transformer's function is kept exactly.
    train_refiner_only: bool = False
    # Extra loss weight on latents inside objects' boxes (world data, from its ground truth): the weight is
    # 1 + object_loss_weight there and 1 elsewhere. Objects cover about a tenth of a world frame, so a plain
    # mean spends most of the loss on backdrop texture while the prompt's kind, colour and count live in the
    # objects. 0 = the plain mean (and always for folder data, which has no boxes).
    object_loss_weight: float = 0.0
    # Extra loss on the steps from one latent frame to the next: the squared error of the predicted clean
    # latents' steps (x0_hat = x_t - t v) against the true ones, times this weight. The flow loss scores each
    # latent frame on its own, so errors that differ from frame to frame cost no more than errors that agree;
    # decoded, the former jump at every latent-frame boundary, where every seam of extend, join and loop sits
    # (bench/generated_judder.py: 1.25x the steps inside a latent frame with the bundled model; session 29's
    # run with weight 3 did not lower it, docs/training.md). 0 = off; no effect on images.
    temporal_loss_weight: float = 0.0
    # Kind contrast (world data): each captioned clip is also predicted with its kind words swapped for other
    # kinds ("a red ball" -> "a red star"), and the loss inside its objects' boxes with the true words must be
    # below the swapped one's by kind_contrast_margin: kind_contrast_weight * max(0, true - swapped + margin)
    # is added. A plain flow loss left the bundled model's prediction the same whatever kind was named (the
    # two losses equal at every t, bench/high_noise_loss.py), so this asks for the difference directly. Those
    # clips go through the transformer twice (in the same forward pass). 0 = off.
    kind_contrast_weight: float = 0.0
    kind_contrast_margin: float = 0.05
    # Which words the contrast swaps (named for its first use, kinds): any of "kind", "colour", "position"
    # (where an object starts: "at the top left"), "direction" (which way it moves: "to the left") and "count"
    # (the caption's "One object", "Two objects"; haneul.world.captions.VOCABULARIES). Each clip swaps one
    # of them, drawn per clip among those its caption uses. Session 25 found the bundled model's samples
    # follow the colour words but not the kind, position or count (bench/kind_binding.py).
    contrast_words: list = field(default_factory=lambda: ["kind"])
    # Probabilities of each conditioning mask over latent frames (normalised; one-frame clips get "none").
    masks: dict = field(
        default_factory=lambda: {
            "none": 0.5,
            "first": 0.2,
            "last": 0.05,
            "first_last": 0.07,
            "prefix": 0.08,
            "suffix": 0.04,
            "keyframes": 0.06,
        }
    )
    cache_latents: bool = True  # keep VAE latents of clips seen before (pays off with world_pool > 0)
    sample_prompts: list = field(
        default_factory=lambda: [
            "a red ball bounces on green grass",
            "a blue star moves to the right in the sky",
        ]
    )
    num_steps: int = 20  # default sampling steps written to haneul.json
    guidance: float = 4.0  # default classifier-free guidance written to haneul.json
    shift: float = 0.0  # default timestep shift written to haneul.json (0 = from the token count)


def parse_value(text: str) -> Any:
    """`--set` values are YAML scalars or lists: 3e-4, true, [128, 128], runs/x."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # YAML 1.1 reads "3e-4" as a string; try a float before giving up.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(values: dict, overrides: list[str], valid: list[str]) -> dict:
    """Apply `key=value` strings to a plain dict of config values (dotted keys reach into dict fields)."""
    values = dict(values)
    for item in overrides:
        if "=" not in item:
            raise InputError(f"--set {item!r} must look like key=value (keys: {', '.join(valid)})")
        key, text = item.split("=", 1)
        key = key.strip()
        top, _, sub = key.partition(".")
        if top not in valid:
            raise InputError(f"unknown config key {top!r}; valid keys: {', '.join(valid)}")
        if sub:
            inner = dict(values.get(top) or {})
            inner[sub] = parse_value(text)
            values[top] = inner
        else:
            values[top] = parse_value(text)
    return values


def load_config(config_cls: type, path: str | Path | None, overrides: list[str] = ()) -> Any:
    """Read a YAML config file into `config_cls`, then apply the `--set` overrides."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"config file {str(path)!r} does not exist")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise InputError(f"config file {str(path)!r} is not valid YAML: {e}") from e
        if not isinstance(values, dict):
            raise InputError(f"config file {str(path)!r} must hold a mapping of keys to values")
    valid = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise InputError(f"unknown config keys {unknown} in {path}; valid keys: {', '.join(valid)}")
    values = apply_overrides(values, list(overrides), valid)
    config = config_cls(**values)
    check_config(config)
    return config


def check_config(config: TrainConfig) -> None:
    for size in config.sizes:
        if len(size) != 2 or any(int(s) % 16 for s in size):
            raise InputError(f"size {size} must be [width, height], both multiples of 16")
    for count in config.frame_counts:
        if int(count) < 1:  # whether it fits the VAE's time compression is checked with the VAE (make_data)
            raise InputError(f"frame count {count} must be at least 1")
    if len(config.frame_weights) != len(config.frame_counts):
        raise InputError(
            f"frame_weights {config.frame_weights} must have one weight per frame count {config.frame_counts}"
        )
    if config.strategy not in ("ddp", "fsdp"):
        raise InputError(f"strategy {config.strategy!r} is not one of ['ddp', 'fsdp']")
    if config.batch_size < 1 or config.steps < 1:
        raise InputError(f"batch_size ({config.batch_size}) and steps ({config.steps}) must be >= 1")


def config_dict(config: Any) -> dict:
    return dataclasses.asdict(config)
