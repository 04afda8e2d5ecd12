"""Writing a generated video to disk: every output path (CLI, Python, server) goes through `save_output`.

Order matters: frames are checked, then watermarked, then written atomically, and the C2PA manifest is
signed last, because any remux would strip it. (Frame check, watermark and signing are added by the
safety work; this first version writes the file.)
"""

from __future__ import annotations

import os
from pathlib import Path

from haneul.pipeline import GeneratedVideo
from haneul.video_io import check_output_path, write_image, write_video


def save_output(video: GeneratedVideo, path: str | os.PathLike) -> dict:
    """Write `video` to `path` (.mp4, or .png for a single frame). Returns a report of what was done."""
    path = check_output_path(path)
    if path.suffix.lower() == ".png":
        write_image(path, video.frames[0])
    else:
        write_video(path, video.frames, fps=video.fps)
    return {"path": str(path), "frame_check": "not run", "watermark": None, "c2pa": None}
