"""Frame moderation: a classifier reviews a generated video's frames before the file is returned.

The checker is chosen by name (`check_frames(..., checker=...)`, or the HANEUL_FRAME_CHECKER environment
variable): "auto" (the default: NudeNet when it is installed, otherwise none), "nudenet", or "none".
When no classifier runs, the result says so (`ran=False, checker=None`) and nothing claims a check.

NudeNet (PyPI `nudenet`, the optional extra `haneul[frames]`) is a YOLOv8n detector of exposed body parts
whose ONNX weights (320n.onnx, ~12 MB) ship inside the wheel, so it runs offline with onnxruntime.
Licence: AGPL-3.0 (see docs/safety.md), which is why it is an optional extra and not a dependency.

Cost: the check runs on every output, so it must be small next to generation. Only a few frames, evenly
spaced and always including the first and the last, are checked (neighbouring frames of a generated clip
are nearly identical; HANEUL_FRAME_SAMPLES or `samples=` sets how many), in one batch through one ONNX
session that stays loaded. The result lists the frames that were checked, so nothing claims more.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from haneul.errors import InputError

CHECKER_NAMES = ("auto", "nudenet", "none")
DEFAULT_SAMPLES = 3  # frames checked per clip (first, middle, last); ~30 ms each on this 2-core CPU

# NudeNet's output classes, in the order of the model's score rows (nudenet/nudenet.py, v3.4)
NUDENET_CLASSES = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

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


def sample_indices(num_frames: int, samples: int) -> list[int]:
    """`samples` frame indices spread evenly from the first frame to the last (fewer if the clip is shorter)."""
    if samples <= 1 or num_frames == 1:
        return [0]
    return sorted({round(i * (num_frames - 1) / (samples - 1)) for i in range(samples)})


class NudeNetModel:
    """NudeNet's ONNX detector run directly: one batched session call, vectorised post-processing.

    Same preprocessing and decision as `nudenet.NudeDetector.detect` on an image file (pad to a square at
    the bottom and right, resize to 320x320, BGR in [0, 1]; keep boxes whose best class score is >= 0.2, then
    class-agnostic NMS at IoU 0.45), without its per-box Python loop and one call per image.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, resolution: int = 320):
        import onnxruntime

        if model_path is None:
            import nudenet

            model_path = Path(nudenet.__file__).parent / "320n.onnx"
        self.session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.resolution = resolution

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, 3, R, R) float32, as NudeNet prepares an image file."""
        n, h, w, _ = frames.shape
        side = max(h, w)
        padded = np.zeros((n, side, side, 3), np.uint8)
        # BGR: what NudeNet's own path gives the model for an image file (cv2.imread's BGR is swapped twice)
        padded[:, :h, :w] = frames[..., ::-1]
        size = (self.resolution, self.resolution)
        resized = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in padded])
        return np.ascontiguousarray(resized.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)

    def detect(self, frames: np.ndarray) -> list[list[dict]]:
        """Detections per frame: dicts of class, score and box [x, y, w, h] in the frame's pixels."""
        side = max(frames.shape[1:3])
        (output,) = self.session.run(None, {self.input_name: self.preprocess(frames)})
        return [self._postprocess(rows.T, side, frames.shape[1:3]) for rows in output]

    def _postprocess(self, rows: np.ndarray, side: int, shape: tuple[int, int]) -> list[dict]:
        scores = rows[:, 4:]
        best = scores.max(1)
        keep = best >= 0.2
        if not keep.any():
            return []
        cls, best = scores[keep].argmax(1), best[keep]
        cx, cy, bw, bh = (rows[keep, :4] * (side / self.resolution)).T
        height, width = shape
        x = np.clip(cx - bw / 2, 0, width)
        y = np.clip(cy - bh / 2, 0, height)
        boxes = np.stack([x, y, np.minimum(bw, width - x), np.minimum(bh, height - y)], 1)
        picked = cv2.dnn.NMSBoxes(boxes.tolist(), best.tolist(), 0.25, 0.45)
        return [
            {"class": NUDENET_CLASSES[cls[i]], "score": float(best[i]), "box": boxes[i].astype(int).tolist()}
            for i in np.asarray(picked, int).ravel()
        ]


class NudeNetChecker:
    """Flags a clip as sexual when any checked frame has an exposed-body-part detection above `threshold`."""

    name = "nudenet"

    def __init__(self, detector=None, threshold: float = 0.5):
        self.detector = detector or NudeNetModel()
        self.threshold = threshold

    def __call__(self, frames: np.ndarray) -> tuple[bool, str | None, dict]:
        detections = self.detector.detect(frames)
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


def default_samples() -> int:
    value = os.environ.get("HANEUL_FRAME_SAMPLES", str(DEFAULT_SAMPLES))
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"HANEUL_FRAME_SAMPLES={value!r} must be a whole number of frames >= 1")
    return int(value)


def check_frames(frames: np.ndarray, checker: str | None = None, samples: int | None = None) -> FrameCheck:
    """Review `frames` (F, H, W, 3) uint8 with the named checker (default: $HANEUL_FRAME_CHECKER or "auto").

    samples: how many frames, evenly spaced from the first to the last, are checked (default:
    $HANEUL_FRAME_SAMPLES or 3); details["frames_checked"] lists them.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InputError(
            f"frames must be a non-empty (F, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}"
        )
    fn = load_checker(checker or os.environ.get("HANEUL_FRAME_CHECKER", "auto"))
    if fn is None:
        return FrameCheck(ran=False, checker=None, flagged=False, category=None, details={})
    idx = sample_indices(len(frames), samples or default_samples())
    start = time.perf_counter()
    flagged, category, details = fn(frames[idx])
    details = {
        **details,
        "frames_checked": idx,
        "frames_total": len(frames),
        "seconds": round(time.perf_counter() - start, 4),
    }
    for hit in details.get("hits", []):
        hit["frame"] = idx[hit["frame"]]  # report the clip's frame number, not the sample's
    return FrameCheck(ran=True, checker=fn.name, flagged=flagged, category=category, details=details)
