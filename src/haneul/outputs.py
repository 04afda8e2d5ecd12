"""Writing a generated video to disk: every output path (CLI, Python, server) goes through `save_output`.

Order matters, and each step is recorded in the returned report:

1. frame check: the frame moderation of `haneul.safety.frames` (a refusal raises ModerationBlocked and
   nothing is written; where no frame classifier runs, the report says so);
2. optional visible label, then the invisible watermark (haneul.safety.watermark) carrying the generation id;
3. an atomic write of the MP4 (or PNG for a single frame) to a temporary file next to the target;
4. the C2PA manifest is signed last (any remux would strip it), into a second temporary file that is
   renamed onto the target. On any failure no file appears at the target and the temporary files go.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

from haneul.errors import InputError, ModerationBlocked
from haneul.pipeline import GeneratedVideo
from haneul.video_io import check_output_path, write_image, write_video


def save_output(
    video: GeneratedVideo,
    path: str | os.PathLike,
    *,
    generation_id: str | None = None,
    ingredients: list[str | os.PathLike] = (),
    watermark: bool = True,
    sign: bool = True,
    visible_watermark: bool = False,
) -> dict:
    """Write `video` to `path` (.mp4, or .png for a single frame). Returns a report of what was done.

    generation_id: hex id recorded in the manifest; its first 8 hex digits are the watermark's payload
    (default: a new uuid4). ingredients: input media of an edit or extension, named in the manifest.
    """
    path = check_output_path(path)
    generation_id = generation_id or uuid.uuid4().hex
    _check_inputs(generation_id, ingredients)
    report = {"path": str(path), "generation_id": generation_id, "timings": {}}
    frames = video.frames[:1] if path.suffix.lower() == ".png" else video.frames  # a PNG is the first frame
    report["frame_check"] = _frame_check(frames, report["timings"])
    if visible_watermark:
        from haneul.safety.watermark import add_visible_mark

        frames = add_visible_mark(frames)
    report["visible_watermark"] = bool(visible_watermark)
    report["watermark"] = None
    if watermark:
        frames, report["watermark"] = _watermark(frames, generation_id, report["timings"])
    with _temporary(path) as unsigned:
        _write(unsigned, frames, video.fps, path.suffix.lower())
        report["c2pa"] = None
        if sign:
            with _temporary(path) as signed:
                report["c2pa"] = _sign(
                    video, frames, unsigned, signed, path.name, generation_id, report, ingredients
                )
                os.replace(signed, path)
        else:
            os.replace(unsigned, path)
    return report


def _check_inputs(generation_id: str, ingredients) -> None:
    if not re.fullmatch(r"[0-9a-fA-F]{8,64}", generation_id):
        raise InputError(f"generation id {generation_id!r} must be 8-64 hex digits (e.g. uuid.uuid4().hex)")
    for ingredient in ingredients:
        if not Path(ingredient).is_file():
            raise InputError(f"ingredient {str(ingredient)!r} (an input of this edit) does not exist")


def _frame_check(frames, timings: dict) -> dict:
    try:
        from haneul.safety.frames import check_frames
    except ImportError:
        return {"ran": False, "reason": "no frame checker is installed (haneul.safety.frames is missing)"}
    start = time.perf_counter()
    result = check_frames(frames)
    timings["frame_check_s"] = round(time.perf_counter() - start, 4)
    result = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else dict(result)
    if "ran" not in result:  # never claim a check that may not have run
        raise TypeError(f"check_frames must say whether a classifier ran (a 'ran' field); got {result!r}")
    if result.get("flagged"):
        category = result.get("category") or "frames"
        raise ModerationBlocked(
            category, "the generated frames were refused by the frame check; nothing was saved"
        )
    return result


def _watermark(frames, generation_id: str, timings: dict):
    from haneul.safety import watermark

    start = time.perf_counter()
    marked = watermark.embed(frames, generation_id)
    timings["watermark_s"] = round(time.perf_counter() - start, 4)
    info = {
        "scheme": watermark.DEFAULT_KEY
        if watermark.watermark_key() == watermark.DEFAULT_KEY
        else "private key",
        "payload": generation_id[: watermark.ID_BITS // 4],
        "psnr_db": round(watermark.psnr(marked, frames), 2),
    }
    return marked, info


def _write(tmp: Path, frames, fps: float, suffix: str) -> None:
    if suffix == ".png":
        write_image(tmp, frames[0])
    else:
        write_video(tmp, frames, fps=fps)


def _sign(
    video, frames, unsigned: Path, signed: Path, title: str, generation_id: str, report: dict, ingredients
) -> dict:
    from haneul.safety import provenance

    start = time.perf_counter()
    generation = {
        "generation_id": generation_id,
        "model": video.model,
        "model_version": str(video.metadata.get("model_version", "unknown")),
        "prompt_sha256": provenance.sha256_text(video.prompt),
        "caption_sha256": provenance.sha256_text(video.caption),
        "seed": int(video.seed),
        "width": int(frames.shape[2]),
        "height": int(frames.shape[1]),
        "num_frames": int(frames.shape[0]),
        "fps": float(video.fps),
        "mode": str(video.metadata.get("mode", "text")),
        "watermark": report["watermark"],
        "frame_check_ran": bool(report["frame_check"].get("ran")),
    }
    manifest = provenance.build_manifest(
        title, generation, video.model, generation["model_version"], provenance.ingredient_ids(ingredients)
    )
    info = provenance.sign_file(unsigned, signed, manifest, ingredients=list(ingredients))
    report["timings"]["sign_s"] = round(time.perf_counter() - start, 4)
    return info


class _temporary:
    """A temporary file path next to `target` (same filesystem, so a rename is atomic); removed on exit."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self) -> Path:
        folder = self.target.parent if str(self.target.parent) else Path(".")
        fd, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=self.target.suffix, dir=folder)
        os.close(fd)
        self.path = Path(name)
        return self.path

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
