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


def fit_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio, then resize: (F, H, W, 3) uint8 -> (F, height, width, 3)."""
    import cv2

    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (F, H, W, 3), got {frames.shape}")
    src_h, src_w = frames.shape[1:3]
    if (src_w, src_h) == (width, height):
        return frames
    scale = max(width / src_w, height / src_h)
    crop_w, crop_h = round(width / scale), round(height / scale)
    x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.stack(
        [
            cv2.resize(f[y0 : y0 + crop_h, x0 : x0 + crop_w], (width, height), interpolation=interp)
            for f in frames
        ]
    )


def describe_fit(src_shape: tuple[int, ...], width: int, height: int) -> str | None:
    """The message a user sees when an input is cropped or resized to the model's grid, or None."""
    src_h, src_w = src_shape[-3:-1] if len(src_shape) == 4 else src_shape[:2]
    if (src_w, src_h) == (width, height):
        return None
    cropped = abs(src_w / src_h - width / height) > 1e-3
    return f"input {src_w}x{src_h} was {'centre-cropped and ' if cropped else ''}resized to {width}x{height}"


def latent_segments(frames: np.ndarray, frame_index: int, num_frames: int, temporal_factor: int):
    """Split frames placed at `frame_index` into pieces the causal VAE can encode into whole latent frames.

    The causal VAE encodes output frame 0 alone into latent 0, then each group of `temporal_factor` frames
    (1..tf, tf+1..2tf, ...) into one latent. A piece is (first latent index, pixel frames, drop_first):
    pieces that start after frame 0 are encoded with a copy of their first frame in front as causal
    context, and that context latent is dropped. A single frame placed after frame 0 is held for its
    whole group, which is what a keyframe means at the VAE's time resolution.
    Yields nothing for frames that fall outside the video.
    """
    tf = temporal_factor
    start = frame_index if frame_index >= 0 else num_frames + frame_index - len(frames) + 1
    if start < 0 or start + len(frames) > num_frames:
        frames = frames[max(0, -start) : num_frames - start]
        start = max(0, start)
    if len(frames) == 0:
        return
    if start == 0:
        k = (len(frames) - 1) // tf
        yield 0, frames[: 1 + tf * k], False
        frames, start = frames[1 + tf * k :], 1 + tf * k
        if len(frames) == 0:
            return
    first_group = -(-(start - 1) // tf) + 1  # smallest j with group start tf*(j-1)+1 >= start
    last_group = (start + len(frames) - 1) // tf  # largest j whose group ends inside the frames
    if last_group >= first_group:
        a = tf * (first_group - 1) + 1 - start
        b = tf * last_group + 1 - start
        piece = frames[a:b]
        yield first_group, np.concatenate([piece[:1], piece]), True
    else:  # fewer frames than a group: hold them over the group that contains `start`
        group = -(-start // tf)
        held = np.concatenate([frames, np.repeat(frames[-1:], tf - len(frames), axis=0)])[:tf]
        yield group, np.concatenate([held[:1], held]), True
