"""Conditioning items: image-to-video, keyframes, extension, loop and join are all lists of these.

A `FrameCondition` says "these pixel frames are given, starting at this output frame". The pipeline
encodes them with the VAE, places their latents on the latent time axis and marks those latent frames
as given (clean, timestep 0), so one set of weights serves every mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FrameCondition:
    frames: np.ndarray  # (F, H, W, 3) uint8; one frame for an image prompt
    frame_index: int = 0  # output frame where frames[0] lands; negative counts from the end (-1 = last)
