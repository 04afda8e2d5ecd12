"""The world benchmark: score videos against their prompts, one video at a time, and sum up.

`evaluate_video(frames, prompt, seed)` runs the whole chain for one clip: expectation (world parse and
ground truth), light and backdrop, detection, tracking, matching, the nine dimensions and the overall
score (mean of the dimensions that apply; the others are None, never 1.0). `run_benchmark` does it for a
list of `VideoItem`s with a progress bar and returns per-video results and the aggregate.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from haneul.errors import InputError
from haneul.eval import camera, metrics
from haneul.eval.detect import SceneLight, allowed_colours, colour_table, detect_frame, estimate_light
from haneul.eval.expected import Expectation, expect
from haneul.eval.match import Match, match_objects
from haneul.eval.track import Detection, track_objects
from haneul.video_io import read_video

DIMENSIONS = metrics.DIMENSIONS


@dataclass
class VideoItem:
    """One video to score: a file (or frames in memory) and the prompt it was made from."""

    id: str
    prompt: str
    seed: int = 0
    file: str | None = None
    frames: np.ndarray | None = None
    fps: float = 8.0
    targets: list[str] = field(default_factory=list)  # dimensions the prompt was written to test
    # A video the safety checks refused (never written): (category, (width, height), frames); scored 0.
    refused: tuple[str, tuple[int, int], int] | None = None


@dataclass
class VideoResult:
    id: str
    prompt: str
    seed: int
    file: str | None
    width: int
    height: int
    num_frames: int
    scores: dict[str, float | None]  # every dimension and "overall"
    details: dict  # measured values behind the scores
    targets: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # In memory only (not in JSON): what the report draws.
    exp: Expectation | None = None
    match: Match | None = None
    frames: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "seed": self.seed,
            "file": self.file,
            "size": [self.width, self.height],
            "num_frames": self.num_frames,
            "targets": self.targets,
            "scores": {k: _round(v) for k, v in self.scores.items()},
            "details": self.details,
            "seconds": round(self.seconds, 4),
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


def detect_video(frames: np.ndarray, light: SceneLight, occluder: str | None) -> list[list[Detection]]:
    """Per-frame detections, with the light undone and the backdrop's colours excluded."""
    table = colour_table(tuple(allowed_colours(light.background, occluder)), light.background)
    return [detect_frame(f, i, light.gains[i], table) for i, f in enumerate(frames)]


def evaluate_video(
    frames: np.ndarray, prompt: str, seed: int = 0, fps: float = 8.0, keep: bool = False
) -> VideoResult:
    """Score one video (F, H, W, 3) uint8 against its prompt. `keep`: hold frames and tracks for a report."""
    start = time.perf_counter()
    num_frames, height, width = frames.shape[:3]
    exp = expect(prompt, seed, width, height, num_frames, fps)
    # The occluder is part of the scene the prompt asks for: its colours are neither backdrop nor objects.
    light = estimate_light(frames, occluder=exp.shown.occluder)
    detections = detect_video(frames, light, exp.shown.occluder)
    tracks = track_objects(detections, width, height)
    match = match_objects(exp, tracks)
    moves = camera.camera_moves(frames, detections)
    temporal, temporal_details = metrics.temporal_score(exp, match, frames, detections, moves)
    scores = {
        "colour": metrics.colour_score(exp, match),
        "kind": metrics.kind_score(exp, match),
        "count": metrics.count_score(exp, match, detections),
        "relation": metrics.relation_score(exp, match),
        "direction": metrics.direction_score(exp, match, _pan(exp, moves, (width, height))),
        "gravity": metrics.gravity_score(exp, match),
        "permanence": metrics.permanence_score(exp, match, (width, height), num_frames),
        "temporal": temporal,
        "background": metrics.background_score(exp, light),
    }
    scores = {k: (v if k in exp.dimensions else None) for k, v in scores.items()}
    applied = [v for v in scores.values() if v is not None]
    scores["overall"] = float(np.mean(applied)) if applied else None
    details = {
        "background_seen": light.background,
        "objects_seen": len(match.chains),
        "detections_per_frame": [len(d) for d in detections],
        "objects_expected": len(exp.objects),
        "matched": {
            str(i): None if c is None else {"colour": c.colour, "kind": c.kind, "frames": len(c.dets)}
            for i, c in match.assigned.items()
        },
        "temporal": {k: _round(v) for k, v in temporal_details.items()},
    }
    return VideoResult(
        id="",
        prompt=prompt,
        seed=seed,
        file=None,
        width=width,
        height=height,
        num_frames=num_frames,
        scores=scores,
        details=details,
        seconds=time.perf_counter() - start,
        exp=exp if keep else None,
        match=match if keep else None,
        frames=frames if keep else None,
    )


def _pan(exp: Expectation, moves: list, size: tuple[int, int]) -> np.ndarray:
    """The backdrop's shift on screen per frame: measured; or, when the backdrop is too plain to show a
    pan the prompt states, the world's (a stated pan has the same speed for every seed)."""
    measured = camera.pan_path(moves, size)
    stated = exp.stated.camera or ""
    if stated.startswith("pan_") and np.hypot(*measured[-1]) < 0.02 * exp.short_side:
        cams = exp.truth["frames"]
        cam0 = np.array([cams[0]["camera"]["x"], cams[0]["camera"]["y"]])
        return np.array(
            [-(np.array([c["camera"]["x"], c["camera"]["y"]]) - cam0) * c["camera"]["zoom"] for c in cams]
        )
    return measured


def evaluate_item(item: VideoItem, keep: bool = False) -> VideoResult:
    if item.refused is not None:
        return refused_result(item)
    if item.frames is not None:
        frames, fps = item.frames, item.fps
    else:
        frames, fps = read_video(item.file)
    result = evaluate_video(frames, item.prompt, item.seed, fps, keep=keep)
    result.id, result.file, result.targets = item.id, item.file, item.targets
    return result


def refused_result(item: VideoItem) -> VideoResult:
    """0 on every dimension the prompt tests: a video nobody gets to see matched nothing."""
    category, (width, height), num_frames = item.refused
    exp = expect(item.prompt, item.seed, width, height, num_frames, item.fps)
    scores = {k: (0.0 if k in exp.dimensions else None) for k in DIMENSIONS}
    scores["overall"] = 0.0
    return VideoResult(
        id=item.id,
        prompt=item.prompt,
        seed=item.seed,
        file=None,
        width=width,
        height=height,
        num_frames=num_frames,
        scores=scores,
        details={"refused": category},
        targets=item.targets,
    )


def aggregate(results: list[VideoResult]) -> dict:
    """Mean of each dimension over the videos it applies to, with how many that is."""
    out = {}
    for dim in (*DIMENSIONS, "overall"):
        values = [r.scores[dim] for r in results if r.scores.get(dim) is not None]
        out[dim] = {"mean": _round(float(np.mean(values))) if values else None, "n": len(values)}
    return out


def run_benchmark(
    items: list[VideoItem],
    on_result: Callable[[VideoResult], None] | None = None,
    progress: bool = True,
    keep: bool = False,
) -> tuple[list[VideoResult], dict]:
    """Score every item (a progress bar on a terminal); `on_result` sees each result as it is made."""
    from rich.progress import Progress

    results = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("scoring videos", total=len(items))
        for item in items:
            result = evaluate_item(item, keep=keep)
            if on_result is not None:
                on_result(result)
            results.append(result)
            bar.advance(task)
    return results, aggregate(results)


# --- inputs ---------------------------------------------------------------------------------------------------


def read_items(path: str | os.PathLike) -> list[VideoItem]:
    """Videos and prompts from a JSONL file, or a folder holding one JSONL next to its videos.

    Each line: {"file": "clip.mp4", "prompt": "...", optional "id", "seed", "targets"}; files are relative
    to the JSONL's folder. A data set written by `haneul world export` works too: its lines have
    "short_caption" (used as the prompt) and "seed"; its one-frame images (.png, .jpg) are skipped.
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.jsonl"))
        if len(found) != 1:
            raise InputError(
                f"folder {str(path)!r} must hold exactly one .jsonl listing its videos; found "
                f"{[p.name for p in found] or 'none'}",
                param="videos",
            )
        path = found[0]
    if not path.is_file():
        raise InputError(f"{str(path)!r} is neither a JSONL file nor a folder", param="videos")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            file, prompt = row["file"], row.get("prompt") or row["short_caption"]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise InputError(
                f"{str(path)}:{n}: each line must be a JSON object with 'file' and 'prompt' ({e})",
                param="videos",
            ) from e
        if Path(file).suffix.lower() in IMAGE_SUFFIXES:
            continue
        if row.get("refused"):
            items.append(_refused_item(row, prompt))
            continue
        full = (path.parent / file) if not Path(file).is_absolute() else Path(file)
        if not full.is_file():
            raise InputError(f"{str(path)}:{n}: video {str(full)!r} does not exist", param="videos")
        items.append(
            VideoItem(
                id=str(row.get("id", Path(file).stem)),
                prompt=prompt,
                seed=int(row.get("seed", 0)),
                file=str(full),
                targets=list(row.get("targets", [])),
            )
        )
    if not items:
        raise InputError(f"{str(path)!r} lists no videos", param="videos")
    return items


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _refused_item(row: dict, prompt: str) -> VideoItem:
    width, height = row["size"]
    return VideoItem(
        id=str(row.get("id", Path(row["file"]).stem)),
        prompt=prompt,
        seed=int(row.get("seed", 0)),
        fps=float(row["fps"]),
        targets=list(row.get("targets", [])),
        refused=(str(row["refused"]), (int(width), int(height)), int(row["num_frames"])),
    )
