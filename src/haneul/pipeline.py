"""The one place that knows every component: text encoder, VAE, transformer, sampler.

`Pipeline.generate` reads as numbered stages: encode prompt, prepare latents and given frames,
denoise, decode. (Being written; the interface below is the contract other modules use.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from haneul.conditioning import FrameCondition

DEFAULT_MODEL_DIR = Path(__file__).parent / "bundled" / "haneul-world-s"

ProgressFn = Callable[[int, int], None]  # (step done, total steps)


@dataclass
class GeneratedVideo:
    frames: np.ndarray  # (F, H, W, 3) uint8 RGB
    fps: float
    prompt: str  # what the user asked for
    caption: str  # what the model saw (the expanded prompt, or the prompt itself)
    seed: int
    model: str  # model name from its card
    metadata: dict = field(default_factory=dict)  # anything else worth recording (steps, guidance, mode ...)


@dataclass
class ModelInfo:
    name: str
    sizes: list[tuple[int, int]]  # (width, height) the model was trained at
    fps: list[float]
    max_frames: int  # per window; longer videos are made window by window
    modes: list[str]  # "text", "image", "extend", "keyframes", "edit", "loop", "join"
    card: str  # the model card (README.md of the model directory)
