"""Uploads in, previews out: checking uploaded images and videos, fitting frames to a size, and the
thumbnail and spritesheet variants of a finished video.

No torch here: the API process imports this module and must stay light.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import av
import numpy as np
from PIL import Image

from haneul.errors import InputError

IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm", "application/octet-stream")
MAX_UPLOAD_PIXELS = 4096 * 4096  # a decompression bomb stops here, before it is decoded
# Bounds the memory an uploaded video's frames take; the worker reads a source whole, relying on this check.
MAX_UPLOAD_FRAMES = 2000


def check_image(data: bytes, content_type: str, param: str) -> np.ndarray:
    """Decode an uploaded image; InputError unless its type is allowed and it really decodes as that type."""
    kind = IMAGE_TYPES.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        raise InputError(
            f"{param} has content type {content_type!r}; supported: {', '.join(IMAGE_TYPES)}", param=param
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != kind:
                raise InputError(
                    f"{param} says {content_type} but holds {image.format or 'no image'}", param=param
                )
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise InputError(
                    f"{param} is {image.width}x{image.height}, over the 4096x4096 limit", param=param
                )
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{param} does not decode as an image: {e}", param=param) from e


def check_video(
    data: bytes, content_type: str, param: str, max_frames: int = MAX_UPLOAD_FRAMES
) -> tuple[np.ndarray, float]:
    """Decode an uploaded video into all its frames (F, H, W, 3) uint8 and fps; InputError if it is not one
    or has more than `max_frames` frames (all are kept, so the caller knows its true length)."""
    if content_type.split(";")[0].strip().lower() not in VIDEO_TYPES:
        raise InputError(
            f"{param} has content type {content_type!r}; supported: {', '.join(VIDEO_TYPES)}", param=param
        )
    frames = []
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            if (stream.width or 0) * (stream.height or 0) > MAX_UPLOAD_PIXELS:
                raise InputError(
                    f"{param} is {stream.width}x{stream.height}, over the 4096x4096 limit", param=param
                )
            fps = float(stream.average_rate or stream.guessed_rate or 24)
            for frame in container.decode(stream):
                if len(frames) == max_frames:
                    raise InputError(
                        f"{param} has more than {max_frames} frames; this server takes shorter videos",
                        param=param,
                    )
                frames.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, IndexError, OSError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{param} does not decode as a video: {e}", param=param) from e
    if not frames:
        raise InputError(f"{param} has no video frames", param=param)
    return np.stack(frames), fps


def fit_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop frames (F, H, W, 3) to exactly (F, height, width, 3), keeping aspect."""
    _, h, w, _ = frames.shape
    if (w, h) == (width, height):
        return frames
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    left, top = (new_w - width) // 2, (new_h - height) // 2
    out = []
    for frame in frames:
        image = Image.fromarray(frame).resize((new_w, new_h), Image.Resampling.BICUBIC)
        out.append(np.asarray(image.crop((left, top, left + width, top + height))))
    return np.stack(out)


def closest_size(width: int, height: int, sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The supported size whose aspect ratio (then area) is nearest to width x height."""
    aspect = math.log(width / height)
    return min(sizes, key=lambda s: (abs(math.log(s[0] / s[1]) - aspect), abs(s[0] * s[1] - width * height)))


def spritesheet(frames: np.ndarray, columns: int = 5, rows: int = 2, tile_width: int = 256) -> np.ndarray:
    """A grid of evenly spaced frames (like OpenAI's spritesheet variant), each tile at most 256 wide."""
    count = min(len(frames), columns * rows)
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    _, h, w, _ = frames.shape
    if w > tile_width:
        w, h = tile_width, max(2, round(h * tile_width / w / 2) * 2)
        frames = fit_frames(frames[picks], w, h)
        picks = np.arange(count)
    sheet = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, index in enumerate(picks):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = frames[index]
    return sheet


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write an upload to disk so a crash never leaves a half-written file at `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
