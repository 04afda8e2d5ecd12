"""Video and image files in and out, with PyAV (its bundled FFmpeg has libx264) and Pillow.

Frames are numpy arrays of shape (F, H, W, 3), dtype uint8, RGB. Every writer is atomic: it writes to a
temporary file next to the target and renames it into place only when the file is complete, so a crash
or a kill never leaves a half-written output behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from haneul.errors import InputError

VIDEO_SUFFIXES = (".mp4",)
IMAGE_SUFFIXES = (".png",)


class AtomicPath:
    """A temporary path in the target's folder that becomes the target on success and vanishes on error."""

    def __init__(self, target: str | os.PathLike):
        self.target = Path(target)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        folder = self.target.parent if str(self.target.parent) else Path(".")
        fd, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=self.target.suffix, dir=folder)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        if exc_type is None:
            with open(self.tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early, before any compute, if the output cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise InputError(f"output file {str(path)!r} must end in .mp4 or .png", param="output")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"output folder {str(folder)!r} does not exist", param="output")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"output path {str(path)!r} is not writable", param="output")
    return path


class VideoWriter:
    """Streams frames into an H.264 MP4 (yuv420p) so long videos never sit in memory whole.

    Use as a context manager; the file appears at `path` only if the block finishes without error.
    """

    def __init__(self, path: str | os.PathLike, fps: float, crf: int = 18):
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self._atomic = AtomicPath(self.path)
        self._container = None
        self._stream = None

    def __enter__(self) -> VideoWriter:
        tmp = self._atomic.__enter__()
        self._container = av.open(str(tmp), mode="w", format="mp4")
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append frames of shape (F, H, W, 3) uint8 (or a single (H, W, 3) frame)."""
        if frames.ndim == 3:
            frames = frames[None]
        if self._stream is None:
            self._open_stream(width=frames.shape[2], height=frames.shape[1])
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)

    def _open_stream(self, width: int, height: int) -> None:
        # yuv420p needs even sizes; every size on a model grid is a multiple of 16, user inputs may not be.
        if width % 2 or height % 2:
            raise InputError(f"video size {width}x{height} must be even for H.264 yuv420p")
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                if self._stream is None:
                    raise ValueError("no frames were written")
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
        self._atomic.__exit__(exc_type, exc, tb)


def write_video(
    path: str | os.PathLike, frames: np.ndarray | Iterable[np.ndarray], fps: float, crf: int = 18
) -> Path:
    """Write frames (F, H, W, 3) uint8, or an iterable of such chunks, to an MP4 atomically."""
    chunks = [frames] if isinstance(frames, np.ndarray) else frames
    with VideoWriter(path, fps=fps, crf=crf) as writer:
        for chunk in chunks:
            writer.write(chunk)
    return Path(path)


def write_image(path: str | os.PathLike, frame: np.ndarray) -> Path:
    """Write one (H, W, 3) uint8 frame as PNG atomically."""
    with AtomicPath(path) as tmp:
        Image.fromarray(frame).save(tmp, format="PNG")
    return Path(path)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Read a video file (anything FFmpeg decodes) as (frames (F, H, W, 3) uint8, fps)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 24)
            frames = []
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.error.FFmpegError, IndexError, OSError) as e:
        raise InputError(f"cannot read video {str(path)!r}: {e}") from e
    if not frames:
        raise InputError(f"video {str(path)!r} has no frames")
    return np.stack(frames), fps


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (anything Pillow decodes) as (H, W, 3) uint8 RGB."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read image {str(path)!r}: {e}") from e


def is_video_file(path: str | os.PathLike) -> bool:
    """True for files FFmpeg opens as video with more than one frame; stills count as images."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return (stream.frames or 0) > 1 or Path(path).suffix.lower() in (
                ".mp4",
                ".mov",
                ".webm",
                ".mkv",
                ".avi",
                ".gif",
            )
    except (av.error.FFmpegError, IndexError, OSError):
        return False
