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


def test_sampling_spreads_frames_from_first_to_last():
    assert sample_indices(33, 3) == [0, 16, 32]
    assert sample_indices(33, 5) == [0, 8, 16, 24, 32]
    assert sample_indices(10, 4) == [0, 3, 6, 9]
    assert sample_indices(2, 3) == [0, 1]
    assert sample_indices(1, 3) == [0]
    assert sample_indices(33, 1) == [0]


def test_sample_count_from_environment(monkeypatch):
    monkeypatch.setenv("HANEUL_FRAME_SAMPLES", "0")
    with pytest.raises(InputError, match="HANEUL_FRAME_SAMPLES"):
        frames.default_samples()
    monkeypatch.setenv("HANEUL_FRAME_SAMPLES", "5")
    assert frames.default_samples() == 5


class FakeDetector:
    """Stands in for NudeNet's model to test the decision rule only: one exposed detection on sample 1."""

    def __init__(self):
        self.seen = None

    def detect(self, images):
        self.seen = images
        dets = [[{"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 5, 5]}] for _ in images]
        dets[1].append({"class": "FEMALE_BREAST_EXPOSED", "score": 0.7, "box": [0, 0, 5, 5]})
        return dets


def test_nudenet_decision_flags_exposed_classes_and_reports_clip_frame(monkeypatch):
    detector = FakeDetector()
    monkeypatch.setattr(frames, "load_checker", lambda name: NudeNetChecker(detector))
    video = clip()
    result = check_frames(video, checker="nudenet", samples=5)
    assert result.ran and result.checker == "nudenet" and result.flagged and result.category == "sexual"
    assert result.details["hits"] == [{"frame": 8, "class": "FEMALE_BREAST_EXPOSED", "score": 0.7}]
    assert result.details["frames_checked"] == [0, 8, 16, 24, 32]
    assert result.details["frames_total"] == 33
    assert np.array_equal(detector.seen, video[[0, 8, 16, 24, 32]])  # one batch of the sampled frames


def test_nudenet_decision_ignores_low_scores_and_covered_parts(monkeypatch):
    detector = FakeDetector()
    monkeypatch.setattr(frames, "load_checker", lambda name: NudeNetChecker(detector, threshold=0.8))
    result = check_frames(clip(), checker="nudenet")
    assert result.ran and not result.flagged and result.category is None and result.details["hits"] == []


def skin_blobs(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth skin-toned blobs: something for a body-part detector to respond to, weakly."""
    import cv2

    x = cv2.GaussianBlur(np.random.default_rng(seed).random((height, width, 3)).astype(np.float32), (0, 0), 5)
    x = (x - x.min()) / (x.max() - x.min())
    return (x * np.array([110, 90, 80]) + np.array([130, 90, 70])).astype(np.uint8)


def test_batched_model_matches_nudenet_own_path():
    """Our batched detector prepares the same input as NudeNet's own path (an image file, BGR) and, from
    the same raw model output, keeps the same boxes; on real frames both report the same detections."""
    pytest.importorskip("nudenet")
    pytest.importorskip("onnxruntime")
    from nudenet import NudeDetector
    from nudenet.nudenet import _postprocess, _read_image

    model, reference = frames.NudeNetModel(), NudeDetector()
    for i, (h, w) in enumerate([(128, 128), (96, 160), (160, 96)]):
        rgb = skin_blobs(h, w, i)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        blob, *geometry = _read_image(bgr, 320)
        assert np.allclose(model.preprocess(rgb[None])[0], blob[0], atol=1e-6)
        assert model.detect(rgb[None])[0] == reference.detect(bgr)
        # raw outputs with many overlapping boxes above NudeNet's 0.2 floor: the same boxes survive
        rng = np.random.default_rng(i)
        raw = np.concatenate(
            [
                rng.uniform(20, 300, (1, 2, 400)),
                rng.uniform(10, 120, (1, 2, 400)),
                rng.random((1, 18, 400)) * 0.6,
            ],
            axis=1,
        ).astype(np.float32)
        x_ratio, y_ratio, x_pad, y_pad, width, height = geometry
        theirs = _postprocess([raw], x_pad, y_pad, x_ratio, y_ratio, width, height, 320, 320)
        ours = model._postprocess(raw[0].T, max(h, w), (h, w))
        assert len(theirs) > 5
        assert [(d["class"], round(d["score"], 5)) for d in ours] == [
            (d["class"], round(d["score"], 5)) for d in theirs
        ]


def test_real_nudenet_runs_on_synthetic_frames():
    pytest.importorskip("nudenet")
    pytest.importorskip("onnxruntime")
    video = clip()
    video[:, 32:96, 32:96] = (90, 160, 220)  # a flat sky-blue square on noise: nothing to flag
    result = check_frames(video, checker="nudenet")
    assert result.ran and result.checker == "nudenet"
    assert not result.flagged and result.category is None
    assert result.details["frames_checked"] == [0, 16, 32]
    assert result.details["seconds"] > 0
    assert check_frames(video).ran  # "auto" picks NudeNet when it is installed
