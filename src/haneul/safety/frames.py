"""Frame moderation: a classifier reviews a generated video's frames before the file is returned.

The checker is chosen by name (`check_frames(..., checker=...)`, or the HANEUL_FRAME_CHECKER environment
variable): "auto" (the default: NudeNet when it is installed, otherwise none), "nudenet", or "none".
When no classifier runs, the result says so (`ran=False, checker=None`) and nothing claims a check.

NudeNet (PyPI `nudenet`, the optional extra `haneul[frames]`) is a YOLOv8n detector of exposed body parts
whose ONNX weights (320n.onnx, ~12 MB) ship inside the wheel, so it runs offline with onnxruntime.
Licence: AGPL-3.0 (see docs/safety.md), which is why it is an optional extra and not a dependency.

Only every `every`-th frame (and always the last) is checked: neighbouring frames of a generated clip are
nearly identical, and the check must cost little next to generation.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from haneul.errors import InputError

CHECKER_NAMES = ("auto", "nudenet", "none")

# NudeNet classes that make a frame sexual content; covered parts, faces and feet do not.
NUDENET_FLAG_CLASSES = (
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)


@dataclass(frozen=True)
class FrameCheck:
    """What the frame check did. `ran=False` means no classifier looked at the frames."""

    ran: bool
    checker: str | None
    flagged: bool
    category: str | None
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def sample_indices(num_frames: int, every: int) -> list[int]:
    """Every `every`-th frame from the first, plus the last one."""
    idx = list(range(0, num_frames, every))
    if idx[-1] != num_frames - 1:
        idx.append(num_frames - 1)
    return idx


class NudeNetChecker:
    """Flags a clip as sexual when any sampled frame has an exposed-body-part detection above `threshold`."""

    name = "nudenet"

    def __init__(self, detector=None, threshold: float = 0.5):
        if detector is None:
            from nudenet import NudeDetector

            detector = NudeDetector()
        self.detector = detector
        self.threshold = threshold

    def __call__(self, frames: np.ndarray) -> tuple[bool, str | None, dict]:
        # NudeNet's own path reads images with cv2 (BGR); give it frames in the same channel order
        images = [np.ascontiguousarray(f[..., ::-1]) for f in frames]
        detections = self.detector.detect_batch(images, batch_size=len(images))
        hits = [
            {"frame": i, "class": d["class"], "score": round(float(d["score"]), 3)}
            for i, dets in enumerate(detections)
            for d in dets
            if d["class"] in NUDENET_FLAG_CLASSES and d["score"] >= self.threshold
        ]
        flagged = bool(hits)
        return flagged, "sexual" if flagged else None, {"threshold": self.threshold, "hits": hits}


def nudenet_installed() -> bool:
    try:
        import nudenet  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def load_checker(name: str = "auto"):
    """The checker called `name`, loaded once; None when `name` is "none" or "auto" finds nothing installed."""
    if name not in CHECKER_NAMES:
        raise InputError(
            f"frame checker {name!r} is not one of {', '.join(CHECKER_NAMES)}", param="frame_checker"
        )
    if name == "none" or (name == "auto" and not nudenet_installed()):
        return None
    if name == "nudenet" and not nudenet_installed():
        raise InputError("frame checker 'nudenet' is not installed: pip install 'haneul[frames]'")
    return NudeNetChecker()


def check_frames(frames: np.ndarray, checker: str | None = None, every: int = 8) -> FrameCheck:
    """Review `frames` (F, H, W, 3) uint8 with the named checker (default: $HANEUL_FRAME_CHECKER or "auto")."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InputError(
            f"frames must be a non-empty (F, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}"
        )
    fn = load_checker(checker or os.environ.get("HANEUL_FRAME_CHECKER", "auto"))
    if fn is None:
        return FrameCheck(ran=False, checker=None, flagged=False, category=None, details={})
    idx = sample_indices(len(frames), max(1, every))
    start = time.perf_counter()
    flagged, category, details = fn(frames[idx])
    details = {**details, "frames_checked": idx, "seconds": round(time.perf_counter() - start, 4)}
    for hit in details.get("hits", []):
        hit["frame"] = idx[hit["frame"]]  # report the clip's frame number, not the sample's
    return FrameCheck(ran=True, checker=fn.name, flagged=flagged, category=category, details=details)
