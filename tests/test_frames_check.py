"""Frame moderation: no claim without a check, the checker chosen by name, NudeNet's decision and a real run."""

import numpy as np
import pytest

from haneul.errors import InputError
from haneul.safety import frames
from haneul.safety.frames import FrameCheck, NudeNetChecker, check_frames, sample_indices


def clip(num_frames: int = 33, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((num_frames, size, size, 3)) * 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def fresh_checkers():
    frames.load_checker.cache_clear()
    yield
    frames.load_checker.cache_clear()


def test_no_checker_means_ran_false():
    result = check_frames(clip(), checker="none")
    assert result == FrameCheck(ran=False, checker=None, flagged=False, category=None, details={})


def test_auto_without_an_installed_classifier_says_no_check_ran(monkeypatch):
    monkeypatch.setattr(frames, "nudenet_installed", lambda: False)
    result = check_frames(clip(), checker="auto")
    assert not result.ran and result.checker is None and not result.flagged
    with pytest.raises(InputError, match="not installed"):
        check_frames(clip(), checker="nudenet")


def test_checker_name_from_environment(monkeypatch):
    monkeypatch.setenv("HANEUL_FRAME_CHECKER", "none")
    assert not check_frames(clip()).ran
    monkeypatch.setenv("HANEUL_FRAME_CHECKER", "clip-nsfw")
    with pytest.raises(InputError, match="auto, nudenet, none"):
        check_frames(clip())


def test_bad_frames_are_input_errors():
    with pytest.raises(InputError):
        check_frames(np.zeros((4, 8, 8), np.uint8), checker="none")
    with pytest.raises(InputError):
        check_frames(np.zeros((4, 8, 8, 3), np.float32), checker="none")


def test_sampling_keeps_first_and_last_frame():
    assert sample_indices(33, 8) == [0, 8, 16, 24, 32]
    assert sample_indices(10, 4) == [0, 4, 8, 9]
    assert sample_indices(1, 8) == [0]


class FakeDetector:
    """Stands in for NudeNet's model to test the decision rule only: one exposed detection on sample 1."""

    def __init__(self):
        self.seen = []

    def detect_batch(self, images, batch_size):
        self.seen = images
        dets = [[{"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 5, 5]}] for _ in images]
        dets[1].append({"class": "FEMALE_BREAST_EXPOSED", "score": 0.7, "box": [0, 0, 5, 5]})
        return dets


def test_nudenet_decision_flags_exposed_classes_and_reports_clip_frame(monkeypatch):
    detector = FakeDetector()
    monkeypatch.setattr(frames, "load_checker", lambda name: NudeNetChecker(detector))
    video = clip()
    result = check_frames(video, checker="nudenet", every=8)
    assert result.ran and result.checker == "nudenet" and result.flagged and result.category == "sexual"
    assert result.details["hits"] == [{"frame": 8, "class": "FEMALE_BREAST_EXPOSED", "score": 0.7}]
    assert result.details["frames_checked"] == [0, 8, 16, 24, 32]
    assert np.array_equal(detector.seen[0], video[0][..., ::-1])  # BGR, as NudeNet's cv2 path reads files


def test_nudenet_decision_ignores_low_scores_and_covered_parts(monkeypatch):
    detector = FakeDetector()
    monkeypatch.setattr(frames, "load_checker", lambda name: NudeNetChecker(detector, threshold=0.8))
    result = check_frames(clip(), checker="nudenet")
    assert result.ran and not result.flagged and result.category is None and result.details["hits"] == []


def test_real_nudenet_runs_on_synthetic_frames():
    pytest.importorskip("nudenet")
    pytest.importorskip("onnxruntime")
    video = clip()
    video[:, 32:96, 32:96] = (90, 160, 220)  # a flat sky-blue square on noise: nothing to flag
    result = check_frames(video, checker="nudenet", every=8)
    assert result.ran and result.checker == "nudenet"
    assert not result.flagged and result.category is None
    assert result.details["frames_checked"] == [0, 8, 16, 24, 32]
    assert result.details["seconds"] > 0
    assert check_frames(video).ran  # "auto" picks NudeNet when it is installed
