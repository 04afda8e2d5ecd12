"""Training configs and data: --set overrides, native-size buckets, bad data, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from haneul.errors import InputError
from haneul.train.config import DiTTrainConfig, TrainConfig, VAETrainConfig, load_config
from haneul.train.data import Bucket, FolderData, WorldData, global_batch_size, make_data
from haneul.video_io import write_image, write_video

SIZES = [[32, 32], [48, 32], [32, 48]]


def make_folder(root: Path, videos: int = 6, corrupt: bool = True) -> Path:
    """A user data set: real MP4s (landscape, portrait, square), one PNG, optionally one corrupt file."""
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(videos):
        w, h = [(64, 48), (48, 64), (48, 48)][i % 3]
        frames = np.zeros((12, h, w, 3), np.uint8)
        frames[..., 1] = 60 + 20 * i
        for t in range(12):
            frames[t, 8:18, 2 + 3 * t : 10 + 3 * t, 0] = 230  # a red box moving right
        name = f"videos/{i:06d}.mp4"
        write_video(root / name, frames, fps=8)
        rows.append({"file": name, "caption": f"a red box moves right, clip {i}", "short_caption": "a red box",
                     "width": w, "height": h, "num_frames": 12, "fps": 8})  # fmt: skip
    write_image(root / "videos/still.png", np.full((40, 40, 3), 200, np.uint8))
    rows.append({"file": "videos/still.png", "caption": "a grey picture", "width": 40, "height": 40})
    if corrupt:
        (root / "videos/bad.mp4").write_bytes(b"this is not an mp4")
        rows.append(
            {"file": "videos/bad.mp4", "caption": "broken", "width": 48, "height": 48, "num_frames": 12}
        )
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def folder_config(data: Path, **kw) -> TrainConfig:
    values = dict(data=str(data), sizes=SIZES, frame_counts=[1, 9], frame_weights=[0.5, 0.5], batch_size=2)
    return TrainConfig(**{**values, **kw})


def test_yaml_and_set_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.001\nsizes: [[128, 128]]\nmodel: {latent_channels: 8}\n")
    config = load_config(VAETrainConfig, path, ["lr=3e-4", "model.channels=[8, 8, 16]", "bf16=false"])
    assert config.lr == 3e-4 and config.bf16 is False and config.sizes == [[128, 128]]
    assert config.model == {"latent_channels": 8, "channels": [8, 8, 16]}
    with pytest.raises(InputError, match="unknown config key 'lrr'.*valid keys"):
        load_config(VAETrainConfig, path, ["lrr=1"])
    with pytest.raises(InputError, match="frame count 0 must be at least 1"):
        load_config(DiTTrainConfig, None, ["frame_counts=[0]", "frame_weights=[1]"])
    with pytest.raises(InputError, match="does not exist"):
        load_config(DiTTrainConfig, tmp_path / "missing.yaml")


def test_the_repo_configs_load():
    for path in sorted(Path(__file__).parents[1].glob("configs/*.yaml")):
        cls = DiTTrainConfig if "dit" in path.name else VAETrainConfig
        load_config(cls, path)


def test_folder_buckets_by_aspect_and_skips_corrupt_files(tmp_path, caplog):
    data = FolderData(folder_config(make_folder(tmp_path)), tmp_path, 4)
    assert data.skipped == 1 and "bad.mp4" in caplog.text  # counted warning, not a crash
    assert set(data.buckets) == {Bucket(48, 32, 9), Bucket(32, 48, 9), Bucket(32, 32, 9), Bucket(32, 32, 1)}
    shapes = set()
    for step in range(12):
        batch = data.batch(step)
        b = batch.bucket
        assert batch.video.shape[1:] == (3, b.frames, b.height, b.width)
        assert -1.0 <= float(batch.video.min()) and float(batch.video.max()) <= 1.0
        shapes.add(tuple(batch.video.shape[2:]))
    assert len(shapes) == 4  # landscape, portrait, square and the image all come through


def test_corrupt_file_found_late_is_skipped_and_replaced(tmp_path):
    root = make_folder(tmp_path, corrupt=False)
    data = FolderData(folder_config(root), root, 4)
    (root / "videos/000002.mp4").write_bytes(b"corrupted after the scan")  # the square 9-frame bucket
    for step in range(8):
        batch = data.batch(step)
        assert batch.video.shape[0] == batch.global_size
    assert data.skipped >= 1


def test_missing_metadata_and_empty_data_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no metadata.jsonl"):
        make_data(folder_config(tmp_path), 4)
    (tmp_path / "metadata.jsonl").write_text("")
    with pytest.raises(InputError, match="no usable videos"):
        make_data(folder_config(tmp_path), 4)
    with pytest.raises(InputError, match="neither 'world' nor a folder"):
        make_data(folder_config(tmp_path / "nope"), 4)


def test_frame_counts_must_fit_the_vaes_time_compression():
    """19 frames fill 9 latent frames of a 2x-time VAE but not whole ones of a 4x one: a clear error at start."""
    config = TrainConfig(sizes=[[32, 32]], frame_counts=[19, 1], frame_weights=[1, 1], batch_size=2)
    assert WorldData(config, 2).batch(0).video.shape[2] in (19, 1)
    make_data(config, 2)
    with pytest.raises(InputError, match=r"frame count 19 does not fit .* 1 \+ 4k \(1, 5, 9"):
        make_data(config, 4)


def test_batches_are_a_function_of_the_step_and_ranks_split_them(tmp_path):
    root = make_folder(tmp_path, corrupt=False)
    one = FolderData(folder_config(root, batch_size=4), root, 4)
    two = FolderData(folder_config(root, batch_size=4), root, 4, world_size=2)
    for step in (0, 3, 7):
        a, b = one.batch(step), one.batch(step)
        assert a.keys == b.keys and bool((a.video == b.video).all())
        halves = [two.batch(step, rank) for rank in (0, 1)]
        assert halves[0].keys + halves[1].keys == a.keys  # the same global batch, split in two


def test_smaller_buckets_get_more_clips():
    config = TrainConfig(sizes=[[128, 128]], frame_counts=[33, 17, 1], frame_weights=[1, 1, 1], batch_size=4)
    buckets = [Bucket(128, 128, f) for f in (33, 17, 1)]
    sizes = [global_batch_size(b, buckets, config, world_size=2, temporal_factor=4) for b in buckets]
    assert sizes == [4, 6, 36]  # 9, 5 and 1 latent frames: about the same tokens per step
    halved = [global_batch_size(b, buckets, config, world_size=2, temporal_factor=2) for b in buckets]
    assert halved == [4, 6, 64]  # a 2x-time VAE: 17, 9 and 1 latent frames (images capped by max_batch_size)


def test_world_object_boxes_hold_the_objects():
    """The box map is 1 on every red pixel of red objects on a white backdrop, and leaves most of it 0."""
    from haneul.train.data import object_boxes
    from haneul.world.clips import render_clip

    clip = render_clip("two red boxes move right on a white background", 64, 48, 9, 8.0, seed=3)
    boxes = object_boxes(clip.truth, clip.frames.shape[:3])
    r, g, b = np.moveaxis(clip.frames.astype(int), -1, 0)
    red = (r - g > 60) & (r - b > 60)
    assert red.sum() > 50 and (boxes[red] == 1).all()
    assert 0 < boxes.mean() < 0.5


def test_a_world_failure_on_one_seed_is_skipped_and_counted():
    from haneul.train.data import WorldData

    data = WorldData(TrainConfig(sizes=[[32, 32]], frame_counts=[1], frame_weights=[1], batch_size=3), 4)
    render = data._render

    def flaky(spec, width, height, frames, fps, seed):
        if seed % 2 == 0:  # the real generator raises on some seeds when it has a bug
            raise AttributeError("'NoneType' object has no attribute 'vel'")
        return render(spec, width, height, frames, fps, seed)

    data._render = flaky
    batch = data.batch(0)
    assert batch.video.shape[0] == batch.global_size and data.skipped >= 1
