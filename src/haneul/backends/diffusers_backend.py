"""Open video models (Wan 2.x, LTX-Video, CogVideoX, HunyuanVideo) behind haneul's interface.

A local diffusers pipeline directory (one with `model_index.json`) loads into `DiffusersPipeline`, which
answers `info()` and `generate(...)` like haneul's own `Pipeline`, so the CLI, the Python API, the
server, moderation, the watermark and C2PA signing all work unchanged. Which modes a pipeline supports
is read from its class; asking for another one is a clear error. Nothing is downloaded: the directory
must hold every component.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from haneul.conditioning import FrameCondition, fit_frames
from haneul.errors import InputError
from haneul.pipeline import GeneratedVideo, ModelInfo, ModelSpec, ProgressFn


@dataclass(frozen=True)
class Family:
    """What one diffusers pipeline class can do, and the grid its VAE and transformer need."""

    modes: tuple[str, ...]
    size_multiple: int  # VAE spatial factor x transformer patch size
    frame_step: int  # frame counts are 1 + frame_step * k
    fps: float
    sizes: tuple[tuple[int, int], ...]  # recommended (width, height), from the model's documentation
    max_frames: int
    num_steps: int
    guidance: float


FAMILIES: dict[str, Family] = {
    "WanPipeline": Family(("text",), 16, 4, 16, ((832, 480), (480, 832)), 81, 50, 5.0),
    "WanImageToVideoPipeline": Family(
        ("image", "keyframes"), 16, 4, 16, ((832, 480), (480, 832)), 81, 50, 5.0
    ),
    "LTXPipeline": Family(("text",), 32, 8, 25, ((704, 480), (480, 704)), 257, 50, 3.0),
    "LTXConditionPipeline": Family(
        ("text", "image", "extend", "keyframes", "edit"), 32, 8, 25, ((704, 480), (480, 704)), 257, 50, 3.0
    ),
    "CogVideoXPipeline": Family(("text",), 16, 8, 8, ((720, 480),), 49, 50, 6.0),
    "CogVideoXImageToVideoPipeline": Family(("image",), 16, 8, 8, ((720, 480),), 49, 50, 6.0),
    "HunyuanVideoPipeline": Family(
        ("text",), 16, 4, 24, ((1280, 720), (720, 1280), (960, 544)), 129, 50, 6.0
    ),
}

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def pipeline_class_name(path: Path) -> str:
    try:
        return json.loads((path / "model_index.json").read_text())["_class_name"]
    except (OSError, json.JSONDecodeError, KeyError) as e:
        raise InputError(
            f"{path}/model_index.json is not a diffusers pipeline index: {e}", param="model"
        ) from e


def pick_device(device: str) -> str:
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise InputError(f"device {device!r} is not one of cpu, cuda, cuda:N, mps", param="device")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device cuda was asked for but no CUDA GPU is available", param="device")
    if device == "mps" and not torch.backends.mps.is_available():
        raise InputError("device mps was asked for but MPS is not available", param="device")
    return device


class DiffusersPipeline:
    """A diffusers video pipeline with haneul's `info()` / `generate()` interface."""

    def __init__(self, pipe, class_name: str, name: str, device: str):
        self.pipe = pipe
        self.class_name = class_name
        self.family = FAMILIES[class_name]
        self.device = device
        f = self.family
        self.spec = ModelSpec(
            name=name,
            text_encoder="(inside the diffusers pipeline)",
            sizes=list(f.sizes),
            max_side=2048,
            fps=[f.fps],
            max_frames=f.max_frames,
            max_seconds=(f.max_frames - 1) / f.fps,
            modes=list(f.modes),
            num_steps=f.num_steps,
            guidance=f.guidance,
            default_seconds=min(2.0, (f.max_frames - 1) / f.fps),
        )
        self._call_params = set(inspect.signature(pipe.__call__).parameters)

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        device: str = "cpu",
        dtype: str | None = None,
        cpu_offload: bool = False,
        vae_tiling: bool = False,
    ) -> DiffusersPipeline:
        path = Path(path)
        class_name = pipeline_class_name(path)
        if class_name not in FAMILIES:
            raise InputError(
                f"{str(path)!r} is a diffusers {class_name}, which haneul does not run; supported: {sorted(FAMILIES)}",
                param="model",
            )
        try:
            import diffusers
        except ImportError as e:
            raise InputError(
                "this is a diffusers pipeline: pip install 'haneul[diffusers]'", param="model"
            ) from e
        device = pick_device(device)
        if dtype is not None and dtype not in DTYPES:
            raise InputError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}", param="dtype")
        torch_dtype = DTYPES[dtype] if dtype else (torch.bfloat16 if device != "cpu" else torch.float32)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            pipe = getattr(diffusers, class_name).from_pretrained(
                path, torch_dtype=torch_dtype, local_files_only=True
            )
        except (OSError, ValueError) as e:
            raise InputError(
                f"cannot load the diffusers pipeline in {str(path)!r}: {e}", param="model"
            ) from e
        if cpu_offload:
            if device == "cpu":
                raise InputError(
                    "--cpu-offload moves weights between CPU and GPU; it needs device cuda", param="device"
                )
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.to(device)
        if vae_tiling and hasattr(pipe.vae, "enable_tiling"):
            pipe.vae.enable_tiling()
        pipe.set_progress_bar_config(disable=True)
        loaded = cls(pipe, class_name, name=path.name, device=device)
        loaded.apply_overrides(path / "haneul.json")
        return loaded

    def apply_overrides(self, path: Path) -> None:
        """An optional haneul.json beside model_index.json declares the sizes, fps and frame limit to offer
        (the table's defaults are the model authors' recommendations)."""
        if not path.is_file():
            return
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"{path} is not valid JSON: {e}", param="model") from e
        allowed = {"name", "sizes", "fps", "max_frames", "num_steps", "guidance"}
        unknown = set(data) - allowed
        if unknown:
            raise InputError(
                f"{path}: unknown fields {sorted(unknown)}; valid: {sorted(allowed)}", param="model"
            )
        for key, value in data.items():
            setattr(self.spec, key, [tuple(v) for v in value] if key == "sizes" else value)
        if "max_frames" in data or "fps" in data:
            self.spec.max_seconds = (self.spec.max_frames - 1) / self.spec.fps[0]
            self.spec.default_seconds = min(self.spec.default_seconds, self.spec.max_seconds)

    # ---- the haneul interface -------------------------------------------------------------------

    @property
    def size_multiple(self) -> int:
        """VAE spatial factor x transformer patch, read from the loaded pipeline (the table is the fallback)."""
        pipe = self.pipe
        spatial = getattr(pipe, "vae_scale_factor_spatial", None) or getattr(
            pipe, "vae_spatial_compression_ratio", None
        )
        patch = getattr(pipe, "transformer_spatial_patch_size", None)
        if patch is None and getattr(pipe, "transformer", None) is not None:
            p = getattr(pipe.transformer.config, "patch_size", None)
            patch = p[-1] if isinstance(p, (list, tuple)) else p
        derived = int(spatial * (patch or 1)) if spatial else 1
        return math.lcm(derived, self.family.size_multiple)  # the table holds each pipeline's own minimum

    @property
    def frame_step(self) -> int:
        pipe = self.pipe
        temporal = getattr(pipe, "vae_scale_factor_temporal", None) or getattr(
            pipe, "vae_temporal_compression_ratio", None
        )
        return int(temporal) if temporal else self.family.frame_step

    def info(self) -> ModelInfo:
        card = f"# {self.spec.name}\n\nA diffusers {self.class_name}, run through haneul on {self.device}.\n"
        return ModelInfo(
            self.spec.name,
            list(self.spec.sizes),
            list(self.spec.fps),
            self.spec.max_frames,
            self.spec.max_seconds,
            list(self.spec.modes),
            card,
        )

    def check_size(self, width: int | None, height: int | None) -> tuple[int, int]:
        if width is None and height is None:
            return self.spec.sizes[0]
        if width is None or height is None:
            raise InputError("give both width and height (or neither for the default size)", param="size")
        m = self.size_multiple
        if width % m or height % m or not (m <= width <= 2048 and m <= height <= 2048):
            near = (max(m, round(width / m) * m), max(m, round(height / m) * m))
            raise InputError(
                f"size {width}x{height} is not on {self.class_name}'s grid (multiples of {m} up to 2048); "
                f"nearest valid: {near[0]}x{near[1]}",
                param="size",
            )
        return width, height

    def check_frames(self, num_frames: int | None, seconds: float | None, fps: float) -> int:
        step = self.frame_step
        if num_frames is None:
            seconds = self.spec.default_seconds if seconds is None else seconds
            if not seconds > 0:
                raise InputError(f"seconds must be positive, got {seconds}", param="seconds")
            num_frames = 1 + step * max(1, round(seconds * fps / step))
        if num_frames < 1 or (num_frames - 1) % step:
            raise InputError(
                f"num_frames {num_frames} must be 1 + {step}k for {self.class_name}", param="seconds"
            )
        if num_frames > self.spec.max_frames:
            raise InputError(
                f"{num_frames} frames is over {self.class_name}'s limit of {self.spec.max_frames} "
                f"({self.spec.max_seconds:.1f}s at {fps:g} fps)",
                param="seconds",
            )
        return num_frames

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
        seed: int = 0,
        negative_prompt: str = "",
        sampler: str | None = None,
        conditions: list[FrameCondition] = (),
        init_video: np.ndarray | None = None,
        strength: float = 0.6,
        progress: ProgressFn | None = None,
        autoguidance: float | None = None,
    ) -> GeneratedVideo:
        from haneul.safety.moderation import check_prompt

        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("prompt is empty; describe the video to generate", param="prompt")
        if sampler not in (None, "euler"):
            raise InputError(
                f"{self.class_name} uses its own scheduler; --sampler {sampler!r} is not available",
                param="sampler",
            )
        if autoguidance not in (None, 1.0):
            raise InputError(
                f"{self.class_name} has no guide transformer; --autoguidance is for haneul's own models",
                param="autoguidance",
            )
        fps = float(fps or self.spec.fps[0])
        width, height = self.check_size(width, height)
        num_frames = self.check_frames(num_frames, seconds, fps)
        num_steps = int(num_steps or self.spec.num_steps)
        guidance = self.spec.guidance if guidance is None else float(guidance)
        check_prompt(prompt)
        # As Pipeline.generate: subnormal floats are many times slower on x86 CPUs (per thread, so here).
        torch.set_flush_denormal(True)

        call = self._conditioning(list(conditions), init_video, strength, width, height, num_frames)
        call.update(
            prompt=prompt.strip(),
            height=height,
            width=width,
            num_frames=num_frames,
            num_inference_steps=num_steps,
            guidance_scale=guidance,
            generator=torch.Generator(device="cpu").manual_seed(seed),
            output_type="np",
        )
        if negative_prompt and "negative_prompt" in self._call_params:
            call["negative_prompt"] = negative_prompt
        if "frame_rate" in self._call_params:
            call["frame_rate"] = int(round(fps))
        if progress is not None and "callback_on_step_end" in self._call_params:

            def on_step(pipe, step: int, timestep, tensors: dict) -> dict:
                progress(step + 1, pipe._num_timesteps if hasattr(pipe, "_num_timesteps") else num_steps)
                return tensors

            call["callback_on_step_end"] = on_step
        frames = self.pipe(**call).frames[0]
        frames = (np.clip(np.asarray(frames, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)
        return GeneratedVideo(
            frames=frames,
            fps=fps,
            prompt=prompt.strip(),
            caption=prompt.strip(),
            seed=seed,
            model=self.spec.name,
            metadata={
                "backend": "diffusers",
                "model_version": self.class_name,
                "pipeline": self.class_name,
                "width": width,
                "height": height,
                "num_frames": num_frames,
                "num_steps": num_steps,
                "guidance": guidance,
                "negative_prompt": negative_prompt,
            },
        )

    # ---- conditioning: haneul's FrameConditions in each pipeline's own terms --------------------

    def _unsupported(self, mode: str) -> InputError:
        return InputError(
            f"{self.class_name} ({self.spec.name}) cannot do {mode}; it supports: {', '.join(self.family.modes)}",
            param="mode",
        )

    def _conditioning(self, conditions, init_video, strength, width, height, num_frames) -> dict:
        from PIL import Image

        def image(frames: np.ndarray) -> Image.Image:
            return Image.fromarray(fit_frames(frames[:1], width, height)[0])

        modes = self.family.modes
        if init_video is not None:
            if "edit" not in modes:
                raise self._unsupported("edit (video-to-video)")
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            video = [Image.fromarray(f) for f in fit_frames(init_video, width, height)[:num_frames]]
            return {
                "conditions": [LTXVideoCondition(video=video, frame_index=0, strength=1.0)],
                "denoise_strength": strength,
            }
        if not conditions:
            if "text" not in modes:
                raise InputError(f"{self.class_name} needs an image prompt (--image)", param="image")
            return {}
        if "image" not in modes:
            raise self._unsupported("image or video prompts (given frames)")
        if self.class_name == "LTXConditionPipeline":
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            items = []
            for cond in conditions:
                index = (
                    cond.frame_index
                    if cond.frame_index >= 0
                    else num_frames + cond.frame_index - len(cond.frames) + 1
                )
                if len(cond.frames) == 1:
                    items.append(LTXVideoCondition(image=image(cond.frames), frame_index=index))
                else:
                    frames = fit_frames(cond.frames, width, height)
                    items.append(
                        LTXVideoCondition(video=[Image.fromarray(f) for f in frames], frame_index=index)
                    )
            return {"conditions": items}
        # Wan and CogVideoX image-to-video: a first frame, and for Wan optionally a last frame
        first = [c for c in conditions if c.frame_index == 0 and len(c.frames) == 1]
        last = [c for c in conditions if c.frame_index in (-1, num_frames - 1) and len(c.frames) == 1]
        if len(first) != 1 or len(first) + len(last) != len(conditions):
            raise self._unsupported(
                "these given frames (it takes one image as the first frame"
                + (", and optionally one as the last" if "last_image" in self._call_params else "")
                + ")"
            )
        call = {"image": image(first[0].frames)}
        if last:
            if "last_image" not in self._call_params:
                raise self._unsupported("a last-frame keyframe")
            call["last_image"] = image(last[0].frames)
        return call
