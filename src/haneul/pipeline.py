"""The one place that knows every component: text encoder, VAE, diffusion transformer, sampler.

`Pipeline.generate` reads as numbered stages: check the request, encode the prompt, prepare noise and
given frames, denoise, decode. Every conditioning mode (image, keyframes, extension, loop, join) is a list
of `FrameCondition`s; editing starts part-way down the schedule from a video's latents (SDEdit), carried
up there along the model's own ODE (inversion) rather than noised with fresh noise.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from haneul import DEFAULT_MODEL_DIR, __version__
from haneul.conditioning import FrameCondition
from haneul.errors import InputError
from haneul.weights import MODEL_FILE, config_to_json

ProgressFn = Callable[[int, int], None]  # (step done, total steps)


@dataclass
class GeneratedVideo:
    frames: np.ndarray  # (F, H, W, 3) uint8 RGB
    fps: float
    prompt: str  # what the user asked for
    caption: str  # what the model saw (the expanded prompt, or the prompt itself)
    seed: int
    model: str  # model name from its card
    metadata: dict = field(default_factory=dict)  # steps, guidance, size, mode ...


@dataclass
class ModelInfo:
    name: str
    sizes: list[tuple[int, int]]  # (width, height) the model was trained at
    fps: list[float]
    max_frames: int  # per window; longer videos are made window by window
    max_seconds: float  # the longest video it makes (window by window)
    modes: list[str]  # "text", "image", "extend", "keyframes", "edit", "loop", "join"
    card: str  # the model card (README.md of the model directory)


@dataclass
class ModelSpec:
    """haneul.json: what a model directory holds and what it supports."""

    name: str
    version: str = __version__
    text_encoder: str = "all-minilm-l6-v2"  # a name the text encoder module knows, or a local directory
    text_max_length: int = 256  # detailed world captions run to ~140 tokens
    sizes: list[tuple[int, int]] = field(default_factory=lambda: [(128, 128)])  # native (trained) sizes
    max_side: int = 256  # any multiple of the latent grid up to this side is accepted; native sizes look best
    fps: list[float] = field(default_factory=lambda: [8.0])
    max_frames: int = 33  # frames per window (1 + tf * k); longer videos are made window by window
    max_seconds: float = 120.0
    modes: list[str] = field(
        default_factory=lambda: ["text", "image", "extend", "keyframes", "edit", "loop", "join"]
    )
    num_steps: int = 12
    guidance: float = 4.0
    # Autoguidance weight (haneul.guidance): > 1 steers away from the model's guide transformer (the
    # model directory's guide/, a weaker model of the same task); 1 = off. Needs guide/ when not 1.
    autoguidance: float = 1.0
    # Contrast guidance weight (haneul.guidance): > 1 steers away from the caption with the words of
    # `contrast_words` (names in haneul.world.captions.VOCABULARIES) swapped for others; 1 = off.
    contrast_guidance: float = 1.0
    contrast_words: list[str] = field(default_factory=lambda: ["kind"])
    sampler: str = "euler"
    default_seconds: float = 2.0
    # Built-in prompt expander (haneul.prompting): "world" for models trained on the procedural world's
    # detailed captions; "" = none (prompts reach the model as typed, unless an LLM expander is set).
    expander: str = ""

    @classmethod
    def from_json(cls, data: dict) -> ModelSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        spec = cls(**{k: v for k, v in data.items() if k in known})
        spec.sizes = [tuple(s) for s in spec.sizes]
        return spec


def load_pipeline(
    model_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    dtype: str | None = None,
    cpu_offload: bool = False,
    vae_tiling: bool = False,
) -> Pipeline:
    """Load a haneul model directory (default: the bundled model) or a local diffusers pipeline directory.

    dtype, cpu_offload and vae_tiling apply to diffusers pipelines; haneul's own models keep fp32
    weights and compute in bf16 autocast.
    """
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    if not path.is_dir():
        if model_dir is None:
            raise InputError(
                f"the bundled model is missing at {path}; pass --model DIR (docs/training.md: how to train one)",
                param="model",
            )
        raise InputError(f"model directory {str(path)!r} does not exist", param="model")
    if (path / "model_index.json").is_file():
        from haneul.backends.diffusers_backend import DiffusersPipeline

        return DiffusersPipeline.from_pretrained(
            path, device=device, dtype=dtype, cpu_offload=cpu_offload, vae_tiling=vae_tiling
        )
    if not (path / MODEL_FILE).is_file():
        found = sorted(p.name for p in path.iterdir())[:10]
        raise InputError(
            f"{str(path)!r} is not a haneul model (no {MODEL_FILE}) nor a diffusers pipeline (no model_index.json); "
            f"found: {found}",
            param="model",
        )
    return Pipeline.from_pretrained(path, device=device)


class Pipeline:
    """Text (and frames) in, video frames out. Build with `from_pretrained` or from components."""

    def __init__(
        self, vae, dit, text_encoder, spec: ModelSpec, card: str = "", device: str = "cpu", guide=None
    ):
        self.vae = vae.eval().requires_grad_(False).to(device)
        self.dit = dit.eval().requires_grad_(False).to(device)
        # the weaker transformer autoguidance steers away from (None: the model has none)
        self.guide = None if guide is None else guide.eval().requires_grad_(False).to(device)
        self.text_encoder = text_encoder
        self.spec = spec
        self.card = card
        self.device = torch.device(device)
        from haneul.prompting import model_expander

        self.expander = model_expander(spec)  # anything with .expand(prompt, seed, ...); None: no expansion

    # ---- loading and saving -------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str = "cpu", text_encoder=None) -> Pipeline:
        from haneul.models.dit import DiT, DiTConfig
        from haneul.models.text_encoder import shared_encoder
        from haneul.models.vae import VAEConfig, VideoVAE
        from haneul.weights import load_config, load_state

        path = Path(path)
        try:
            spec = ModelSpec.from_json(json.loads((path / MODEL_FILE).read_text()))
        except (OSError, json.JSONDecodeError, TypeError) as e:
            raise InputError(
                f"invalid model directory {str(path)!r}: {MODEL_FILE}: {e}", param="model"
            ) from e
        from haneul.world.captions import check_vocabulary_names

        try:
            check_vocabulary_names(spec.contrast_words, "contrast_words")
        except InputError as e:
            raise InputError(
                f"invalid model directory {str(path)!r}: {MODEL_FILE}: {e}", param="model"
            ) from e
        vae = load_state(VideoVAE(load_config(VAEConfig, path / "vae")), path / "vae")
        dit = load_state(DiT(load_config(DiTConfig, path / "dit")), path / "dit")
        guide = None
        if (path / "guide").is_dir():
            guide = load_state(DiT(load_config(DiTConfig, path / "guide")), path / "guide")
        if spec.autoguidance != 1.0 and guide is None:
            raise InputError(
                f"{str(path)!r}: haneul.json asks for autoguidance {spec.autoguidance:g} but there is no guide/",
                param="model",
            )
        if text_encoder is None:
            text_encoder = shared_encoder(spec.text_encoder, spec.text_max_length)
        card_path = path / "README.md"
        card = card_path.read_text() if card_path.is_file() else ""
        return cls(vae, dit, text_encoder, spec, card=card, device=device, guide=guide)

    def save_pretrained(self, path: str | os.PathLike, dtype: str = "bf16", card: str | None = None) -> None:
        from haneul.weights import save_module, write_json_atomic

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_module(self.vae, self.vae.config, path / "vae", dtype=dtype)
        save_module(self.dit, self.dit.config, path / "dit", dtype=dtype)
        if self.guide is not None:
            save_module(self.guide, self.guide.config, path / "guide", dtype=dtype)
        write_json_atomic(path / MODEL_FILE, config_to_json(self.spec))
        (path / "README.md").write_text(card if card is not None else self.card)

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.spec.name,
            sizes=list(self.spec.sizes),
            fps=list(self.spec.fps),
            max_frames=self.spec.max_frames,
            max_seconds=self.spec.max_seconds,
            modes=list(self.spec.modes),
            card=self.card,
        )

    # ---- request checks -------------------------------------------------------------------------

    @property
    def frame_step(self) -> int:
        """Frame counts are 1 + frame_step * k (the VAE's time compression)."""
        return self.vae.config.temporal_factor

    @property
    def size_multiple(self) -> int:
        return self.vae.config.spatial_factor * self.dit.config.patch_size[1]

    def check_size(self, width: int | None, height: int | None) -> tuple[int, int]:
        """Default to the first native size; reject sizes off the latent grid, naming the nearest valid ones."""
        if width is None and height is None:
            return self.spec.sizes[0]
        if width is None or height is None:
            raise InputError("give both width and height (or neither for the default size)", param="size")
        m, top = self.size_multiple, self.spec.max_side
        if width % m == 0 and height % m == 0 and m <= width <= top and m <= height <= top:
            return width, height

        def snap(v: int) -> int:
            return min(max(m, round(v / m) * m), top)

        nearest = sorted(
            {(snap(width), snap(height)), *self.spec.sizes},
            key=lambda s: abs(s[0] - width) + abs(s[1] - height),
        )
        listed = ", ".join(f"{w}x{h}" for w, h in nearest[:3])
        raise InputError(
            f"size {width}x{height} is not on this model's grid (multiples of {m} up to {top}); nearest valid: {listed}",
            param="size",
        )

    def check_frames(self, num_frames: int | None, seconds: float | None, fps: float) -> int:
        """Frame counts are 1 + tf * k (tf: the VAE's time compression); seconds round up to the next such count."""
        tf = self.vae.config.temporal_factor
        if num_frames is None:
            seconds = self.spec.default_seconds if seconds is None else seconds
            if not seconds > 0:
                raise InputError(f"seconds must be positive, got {seconds}", param="seconds")
            num_frames = 1 + tf * math.ceil(round(seconds * fps, 6) / tf)
        if num_frames < 1 or (num_frames - 1) % tf:
            lower = 1 + tf * max(0, (num_frames - 1) // tf)
            raise InputError(
                f"num_frames {num_frames} must be 1 + {tf}k; nearest: {lower}, {lower + tf}", param="seconds"
            )
        limit = int(self.spec.max_seconds * fps) + 1
        if num_frames > limit:
            raise InputError(
                f"duration {num_frames / fps:.1f}s is over this model's limit of {self.spec.max_seconds:g}s",
                param="seconds",
            )
        return num_frames

    # ---- generation -----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        *,
        width: int | None = None,
        height: int | None = None,
        seconds: float | None = None,
        num_frames: int | None = None,
        fps: float | None = None,
        num_steps: int | None = None,
        guidance: float | None = None,
        autoguidance: float | None = None,
        contrast: float | None = None,
        seed: int = 0,
        negative_prompt: str = "",
        sampler: str | None = None,
        conditions: list[FrameCondition] = (),
        init_video: np.ndarray | None = None,
        strength: float = 0.6,
        recolour: bool = True,
        invert: bool = True,
        progress: ProgressFn | None = None,
        expand: bool = True,
        on_frames: Callable[[np.ndarray], None] | None = None,
    ) -> GeneratedVideo:
        """Generate one video. Videos longer than the model's window are made window by window.

        guidance: classifier-free guidance scale; autoguidance: the guide transformer's weight (1: off);
        contrast: the weight of contrast guidance by the caption with its kind (and other `contrast_words`)
        words swapped (1: off; no effect on a caption without such words); see haneul.guidance. All three
        default to the model's (haneul.json).

        expand: rewrite the prompt into the detailed caption the model was trained on (`self.expander`);
        the caption is returned in GeneratedVideo.caption and metadata["expansion"].

        conditions: frames given at output positions (image-to-video, keyframes, extension, loop, join).
        init_video: (F, H, W, 3) uint8 frames to re-render from `prompt` (SDEdit); strength 0 keeps the
        input, 1 ignores it.
        recolour: before an edit (init_video and no conditions), paint the colour the prompt names for its
        object into init_video (`modes.colour_start`): a low strength keeps the input's colours, so the
        model alone would not change them. No effect unless the prompt names one object colour the video
        lacks. Extension and join (init_video with conditions: a guessed continuation) are never painted.
        invert: for an edit (init_video and no conditions) below strength 1, start from the input's
        latents carried up to t = strength along the model's own ODE (`flow.invert`: the empty prompt, no
        guidance: one unguided forward pass per sampling step, counted by `progress`), so the objects stay
        where they were; the start is then the same for every seed (the seed still picks the prompt's
        expansion). False noises the latents with fresh noise from the seed (plain SDEdit, before
        session 8). Strength 1 always starts from fresh noise, so it ignores the input either way.
        Extension and join (init_video with conditions) always use fresh noise.
        on_frames: stream the decoded frames, chunk by chunk ((F, H, W, 3) uint8), to this function
        instead of holding them (e.g. into a `VideoWriter`), so memory does not grow with the duration;
        the returned video then has no frames (shape (0, H, W, 3)); an edit of strength 0 returns its input
        as usual.
        """
        from haneul.safety.moderation import check_prompt

        # 1. check the request (before any compute is spent)
        request = self._check_request(
            prompt, width, height, seconds, num_frames, fps, num_steps, guidance, sampler, strength
        )
        request["autoguidance"] = self._check_autoguidance(autoguidance)
        request["contrast"] = self._check_contrast(contrast)
        check_prompt(request["prompt"])
        caption = request["prompt"]
        if expand and self.expander is not None:  # recaptioning: the caption is moderated too
            shape = {k: request[k] for k in ("width", "height", "num_frames", "fps")}
            # A long video is made window by window and every window sees this caption: describe one
            # window's worth of time, as in training (a minute-long caption puts its events at times no
            # window has, e.g. "hidden from 0.0 to 60.0 s").
            shape["num_frames"] = min(shape["num_frames"], self.spec.max_frames)
            expansion = self.expander.expand(caption, seed=seed, **shape)
            check_prompt(expansion.caption)
            caption, request["expansion"] = expansion.caption, expansion.to_dict()
        width, height, num_frames, fps = (
            request["width"],
            request["height"],
            request["num_frames"],
            request["fps"],
        )

        # Subnormal floats are many times slower on x86 CPUs, and sampling meets them: a 20 s video of the
        # 2026-12-05 model took 103 s with them and 16 s flushed to zero (the value change is below 1e-38).
        # Per thread, so here rather than at load: the server samples in its worker threads.
        torch.set_flush_denormal(True)

        # 2. encode the prompt and the negative prompt (the unconditional branch of guidance)
        context, context_mask = self.text_encoder.encode([caption])
        neg_context, neg_mask = self.text_encoder.encode([negative_prompt])
        contrast_caption = self._contrast_caption(caption, seed) if request["contrast"] != 1.0 else None
        contrast_context = None
        if contrast_caption is not None:
            contrast_context = tuple(c.to(self.device) for c in self.text_encoder.encode([contrast_caption]))
        request["contrast_caption"] = contrast_caption

        if init_video is not None and request["strength"] == 0.0:  # an edit of strength 0 is the input itself
            return self._result(
                self._fit_duration(init_video, width, height, num_frames), request, caption, seed, "edit"
            )

        # 3. prepare the latent grid, the given frames and the starting point
        latent_shape = self._latent_shape(width, height, num_frames)
        given_latents, given = self._encode_conditions(
            list(conditions), width, height, num_frames, latent_shape
        )
        init_latents = None
        if init_video is not None:
            start_frames = self._fit_duration(init_video, width, height, num_frames)
            if recolour and not conditions:
                from haneul.modes import colour_start  # modes builds on the pipeline: imported here

                start_frames = colour_start(start_frames, request["prompt"])
            init_latents = self._encode(start_frames).cpu()
        generator = torch.Generator().manual_seed(seed)
        # a plain edit starts from its latents inverted along the model's ODE; extension and join
        # (conditions given) start from their guess noised with fresh noise, as their prior was tuned
        invert_with = None
        if init_latents is not None and invert and not conditions and request["strength"] < 1.0:
            invert_with = tuple(c.to(self.device) for c in self.text_encoder.encode([""]))

        # 4. denoise, window by window along time
        latents = self._denoise(
            latent_shape,
            context.to(self.device),
            context_mask.to(self.device),
            neg_context.to(self.device),
            neg_mask.to(self.device),
            given_latents,
            given,
            init_latents,
            request,
            generator,
            progress,
            invert_with,
            contrast_context,
        )

        # 5. decode, streaming over time so memory stays flat for long videos
        frames = self._decode(latents, on_frames)
        return self._result(
            frames,
            request,
            caption,
            seed,
            "edit" if init_video is not None else ("conditioned" if conditions else "text"),
            negative_prompt,
        )

    def _result(self, frames, request, caption, seed, mode, negative_prompt="") -> GeneratedVideo:
        return GeneratedVideo(
            frames=frames,
            fps=request["fps"],
            prompt=request["prompt"],
            caption=caption,
            seed=seed,
            model=self.spec.name,
            metadata={
                **{
                    k: request[k]
                    for k in ("width", "height", "num_frames", "num_steps", "guidance", "autoguidance")
                },
                "contrast": request.get("contrast", 1.0),
                "contrast_caption": request.get("contrast_caption"),
                "sampler": request["sampler"],
                "negative_prompt": negative_prompt,
                "mode": mode,
                "model_version": self.spec.version,
                "caption": caption,
                "expansion": request.get("expansion"),
            },
        )

    def _check_request(
        self, prompt, width, height, seconds, num_frames, fps, num_steps, guidance, sampler, strength
    ) -> dict:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("prompt is empty; describe the video to generate", param="prompt")
        fps = float(fps) if fps is not None else float(self.spec.fps[0])
        if not 1 <= fps <= 60:
            raise InputError(
                f"fps {fps:g} is out of range 1-60 (this model was trained at {self.spec.fps})", param="fps"
            )
        width, height = self.check_size(width, height)
        num_frames = self.check_frames(num_frames, seconds, fps)
        num_steps = self.spec.num_steps if num_steps is None else int(num_steps)
        if not 1 <= num_steps <= 1000:
            raise InputError(f"num_steps {num_steps} is out of range 1-1000", param="num_steps")
        guidance = self.spec.guidance if guidance is None else float(guidance)
        if not 0 <= guidance <= 30:
            raise InputError(f"guidance {guidance:g} is out of range 0-30", param="guidance")
        sampler = sampler or self.spec.sampler
        if sampler not in ("euler", "heun"):
            raise InputError(f"sampler {sampler!r} is not one of ['euler', 'heun']", param="sampler")
        if not 0 <= strength <= 1:
            raise InputError(f"strength {strength:g} must be between 0 and 1", param="strength")
        return dict(
            prompt=prompt.strip(),
            width=width,
            height=height,
            num_frames=num_frames,
            fps=fps,
            num_steps=num_steps,
            guidance=guidance,
            sampler=sampler,
            strength=float(strength),
        )

    def _check_autoguidance(self, autoguidance: float | None) -> float:
        autoguidance = self.spec.autoguidance if autoguidance is None else float(autoguidance)
        if not 0 <= autoguidance <= 30:
            raise InputError(f"autoguidance {autoguidance:g} is out of range 0-30", param="autoguidance")
        if autoguidance != 1.0 and self.guide is None:
            raise InputError(
                f"autoguidance {autoguidance:g} needs a guide transformer and {self.spec.name} has none; "
                "leave it at 1",
                param="autoguidance",
            )
        return autoguidance

    def _check_contrast(self, contrast: float | None) -> float:
        contrast = self.spec.contrast_guidance if contrast is None else float(contrast)
        if not 0 <= contrast <= 30:
            raise InputError(f"contrast {contrast:g} is out of range 0-30", param="contrast")
        return contrast

    def _contrast_caption(self, caption: str, seed: int) -> str | None:
        """The caption with the words of the model's `contrast_words` swapped for others (drawn from the
        seed), or None when it has none of them (nothing to contrast with)."""
        from haneul.world.captions import swap_all

        swapped = swap_all(caption, self.spec.contrast_words, np.random.default_rng(seed))
        return None if swapped == caption else swapped

    def _latent_shape(self, width: int, height: int, num_frames: int) -> tuple[int, int, int, int]:
        c = self.vae.config
        return (
            c.latent_channels,
            self.vae.num_latent_frames(num_frames),
            height // c.spatial_factor,
            width // c.spatial_factor,
        )

    # ---- stages ---------------------------------------------------------------------------------

    def _autocast(self):
        return torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.device.type in ("cpu", "cuda")
        )

    def _to_video(self, frames: np.ndarray) -> torch.Tensor:
        """(F, H, W, 3) uint8 -> (1, 3, F, H, W) float in [-1, 1]."""
        video = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).float() / 127.5 - 1.0
        return video.permute(3, 0, 1, 2)[None]

    def _encode(self, frames: np.ndarray) -> torch.Tensor:
        with self._autocast():
            return self.vae.encode(self._to_video(frames)).float()

    def _fit(self, frames: np.ndarray, width: int, height: int) -> np.ndarray:
        from haneul.conditioning import fit_frames

        return fit_frames(frames, width, height)

    def _encode_conditions(self, conditions, width, height, num_frames, latent_shape):
        """Given latent frames and their mask, from pixel frames placed at output positions."""
        from haneul.conditioning import latent_segments

        channels, latent_frames, h, w = latent_shape
        given_latents = torch.zeros(1, channels, latent_frames, h, w)
        given = torch.zeros(latent_frames, dtype=torch.bool)
        tf = self.vae.config.temporal_factor
        for cond in conditions:
            frames = self._fit(cond.frames, width, height)
            for first_latent, pixels, drop_first in latent_segments(frames, cond.frame_index, num_frames, tf):
                latents = self._encode(pixels)[:, :, 1 if drop_first else 0 :]
                n = min(latents.shape[2], latent_frames - first_latent)
                given_latents[:, :, first_latent : first_latent + n] = latents[:, :, :n].cpu()
                given[first_latent : first_latent + n] = True
        return given_latents, given

    def _fit_duration(self, video: np.ndarray, width: int, height: int, num_frames: int) -> np.ndarray:
        frames = self._fit(video, width, height)
        if len(frames) < num_frames:  # hold the last frame: an edit keeps the requested duration
            frames = np.concatenate([frames, np.repeat(frames[-1:], num_frames - len(frames), axis=0)])
        return frames[:num_frames]

    def _denoise(
        self,
        shape,
        context,
        context_mask,
        neg_context,
        neg_mask,
        given_latents,
        given,
        init_latents,
        request,
        generator,
        progress,
        invert_with=None,
        contrast=None,
    ) -> torch.Tensor:
        """Sample the whole latent video, one window at a time; each window is given the end of the last.

        invert_with: (context, mask) to invert an edit's latents with (no guidance), instead of fresh noise.
        contrast: (context, mask) of the swapped caption for contrast guidance (None: none).
        """
        from haneul.flow import sample, shift_for_tokens, timesteps
        from haneul.guidance import guided_velocity

        channels, latent_frames, h, w = shape
        window = self.vae.num_latent_frames(self.spec.max_frames)
        starts = window_starts(latent_frames, window, overlap=min(2, window - 1))
        latents = torch.zeros(1, channels, latent_frames, h, w)
        done = torch.zeros(latent_frames, dtype=torch.bool)
        pt, ph, pw = self.dit.config.patch_size
        steps_done, total = 0, None

        def progress_from(offset: int, total: int) -> ProgressFn:
            def report(step: int, _n: int) -> None:
                if progress is not None:
                    progress(offset + step, total)

            return report

        for start in starts:
            end = min(start + window, latent_frames)
            win_given = given[start:end] | done[start:end]
            win_latents = torch.where(
                done[start:end].view(1, 1, -1, 1, 1), latents[:, :, start:end], given_latents[:, :, start:end]
            )
            noise = torch.randn((1, channels, end - start, h, w), generator=generator)
            tokens = (end - start) // pt * (h // ph) * (w // pw)
            ts = timesteps(request["num_steps"], shift_for_tokens(tokens))
            x = noise
            if init_latents is not None:
                ts = _truncate_schedule(ts, request["strength"])
                t0 = float(ts[0])
                x = (1 - t0) * init_latents[:, :, start:end] + t0 * noise
            # steps per window: sampling, and as many again when the start is found by inversion
            per_window = (len(ts) - 1) * (2 if invert_with is not None else 1)
            total = total or len(starts) * per_window
            given_b = win_given[None].to(self.device)

            def velocity(x_t: torch.Tensor, t: torch.Tensor, given_b: torch.Tensor = given_b) -> torch.Tensor:
                with self._autocast():
                    v = guided_velocity(
                        self.dit,
                        x_t,
                        t,
                        context,
                        context_mask,
                        neg_context,
                        neg_mask,
                        given_b,
                        request["guidance"],
                        self.guide,
                        request["autoguidance"],
                        contrast,
                        request["contrast"],
                    )
                return v.float()

            if invert_with is not None and len(ts) > 1:
                held = torch.where(win_given.view(1, 1, -1, 1, 1), win_latents, init_latents[:, :, start:end])
                x = self._invert(held, ts, given_b, invert_with, progress_from(steps_done, total))
                steps_done += len(ts) - 1
            if len(ts) > 1:
                x = sample(
                    velocity,
                    x.to(self.device),
                    ts,
                    method=request["sampler"],
                    given_latents=win_latents.to(self.device),
                    given=given_b,
                    progress=progress_from(steps_done, total),
                )
            x = torch.where(win_given.view(1, 1, -1, 1, 1), win_latents, x.cpu())
            latents[:, :, start:end] = x
            done[start:end] = True
            steps_done += len(ts) - 1
        return latents

    def _invert(self, latents, ts, given, context, progress) -> torch.Tensor:
        """An edit's start: its clean latents carried from t = 0 up to ts[0] along the unguided ODE."""
        from haneul.flow import invert

        def velocity(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            with self._autocast():
                return self.dit(x_t, t, *context, given).float()

        return invert(velocity, latents.to(self.device), ts.flip(0), given=given, progress=progress).cpu()

    def _decode(
        self, latents: torch.Tensor, on_frames: Callable[[np.ndarray], None] | None = None
    ) -> np.ndarray:
        """Decoded frames (F, H, W, 3) uint8; with `on_frames`, each chunk goes there and none are kept."""
        chunks = []
        with self._autocast():
            # 4 latent frames (16 video frames) per pass: faster than one at a time, memory still flat
            for chunk in self.vae.decode_chunks(latents.to(self.device), chunk=4):
                frames = to_uint8(chunk[0].float())
                if on_frames is None:
                    chunks.append(frames)
                else:
                    on_frames(frames)
        if not chunks:
            return np.zeros((0, *frames.shape[1:]), dtype=np.uint8)
        return np.concatenate(chunks)


def window_starts(latent_frames: int, window: int, overlap: int) -> list[int]:
    """Start of each window along latent time; the last window ends exactly at the end."""
    if latent_frames <= window:
        return [0]
    starts, stride = [0], window - overlap
    while starts[-1] + window < latent_frames:
        starts.append(min(starts[-1] + stride, latent_frames - window))
    return starts


def _truncate_schedule(ts: torch.Tensor, strength: float) -> torch.Tensor:
    """SDEdit: start the schedule at t = strength instead of 1."""
    rest = ts[ts < strength]
    return torch.cat([torch.tensor([strength], dtype=ts.dtype), rest])


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(3, F, H, W) in [-1, 1] -> (F, H, W, 3) uint8."""
    return ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()
