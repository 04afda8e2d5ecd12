"""Training data at native sizes: the procedural world streamed in-process, or a folder of videos and images.

Sora trains on videos at their own resolution, aspect ratio and duration rather than square crops; we do
the same by bucketing. A bucket is one (width, height, frames) shape; each step draws one bucket and a
batch of clips of exactly that shape, so the transformer sees every size the model serves (landscape,
portrait, square; 1-frame images, 2 s and 4 s clips). Smaller buckets get more clips per batch so each
step costs about the same.

Every random choice is a pure function of (seed, step, sample index), so the data position of a run is
just its step: `--resume` continues with exactly the batches an uninterrupted run would have seen, and a
run on N processes sees the same global batch as a run on one.

Folder layout (what `haneul world export` writes, and what users provide):

    DIR/metadata.jsonl   one JSON object per line: {"file": "videos/000000.mp4", "caption": "...",
                         "short_caption": "..." (optional), "width", "height", "num_frames", "fps"}
    DIR/videos/...       MP4 files, or PNG/JPG images (one-frame videos)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from haneul.errors import InputError
from haneul.train.config import TrainConfig
from haneul.video_io import read_image, read_video

log = logging.getLogger("haneul.train")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass(frozen=True)
class Bucket:
    width: int
    height: int
    frames: int

    def latent_volume(self, temporal_factor: int) -> int:
        """Pixels times latent frames (the VAE's time compression): proportional to the transformer's tokens."""
        return self.width * self.height * (1 + (self.frames - 1) // temporal_factor)


@dataclass
class Batch:
    video: torch.Tensor  # (B, 3, F, H, W) float32 in [-1, 1]; this process's share of the global batch
    captions: list[str]  # detailed captions
    short_captions: list[str]  # short prompts ("" when the data has none)
    keys: list[tuple]  # identity of each clip (for latent caching)
    indices: list[int]  # position of each clip in the global batch
    bucket: Bucket
    global_size: int  # clips in the global batch
    # (B, F, H, W) float32: 1 inside an object's box in that frame, else 0 (world data only: its ground truth)
    foreground: torch.Tensor | None = None


def rng_for(*keys: int) -> np.random.Generator:
    """A generator that is a pure function of its integer keys."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (3, F, H, W) float32 in [-1, 1]."""
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float()
    return video / 127.5 - 1.0


def all_buckets(config: TrainConfig) -> list[Bucket]:
    return [Bucket(int(w), int(h), int(f)) for (w, h) in config.sizes for f in config.frame_counts]


def global_batch_size(
    bucket: Bucket, buckets: list[Bucket], config: TrainConfig, world_size: int, temporal_factor: int
) -> int:
    """`batch_size` clips for the largest bucket, proportionally more for smaller ones; divisible by world_size."""
    largest = max(b.latent_volume(temporal_factor) for b in buckets)
    n = int(config.batch_size * largest / bucket.latent_volume(temporal_factor))
    n = max(config.batch_size, min(n, config.max_batch_size))
    return max(world_size, n - n % world_size)


def rank_slice(n: int, rank: int, world_size: int) -> range:
    per = n // world_size
    return range(rank * per, (rank + 1) * per)


class WorldData:
    """The procedural world, rendered on the fly; `world_pool` > 0 reuses a fixed pool of clips per bucket."""

    def __init__(self, config: TrainConfig, temporal_factor: int, world_size: int = 1):
        from haneul.world.clips import render_clip  # imported here: folder training needs no world

        self._render = render_clip
        self.config = config
        self.world_size = world_size
        self.temporal_factor = temporal_factor  # the VAE's: batch sizes follow latent frames
        self.buckets = all_buckets(config)
        self.skipped = 0
        self.frames: dict[tuple, tuple] = {}  # pool clips (frames, captions, object boxes), if cache_frames

    def describe(self) -> str:
        pool = f"pool of {self.config.world_pool} clips per bucket" if self.config.world_pool else "endless"
        return f"procedural world ({pool}), {len(self.buckets)} buckets"

    def bucket_for(self, step: int) -> Bucket:
        rng = rng_for(self.config.seed, step, 1)
        sizes = [(int(w), int(h)) for w, h in self.config.sizes]
        w, h = sizes[rng.integers(len(sizes))]
        weights = np.asarray(self.config.frame_weights, dtype=float)
        frames = int(self.config.frame_counts[rng.choice(len(weights), p=weights / weights.sum())])
        return Bucket(w, h, frames)

    def clip_seed(self, step: int, index: int, bucket: Bucket) -> int:
        if self.config.world_pool:
            slot = int(rng_for(self.config.seed, step, 2, index).integers(self.config.world_pool))
            return int(
                rng_for(self.config.seed, 3, bucket.width, bucket.height, bucket.frames, slot).integers(2**31)
            )
        return int(rng_for(self.config.seed, step, 4, index).integers(2**31))

    def clip(self, key: tuple, seed: int, bucket: Bucket) -> tuple[np.ndarray, str, str, np.ndarray]:
        if key in self.frames:
            return self.frames[key]
        clip = None
        for attempt in range(10):  # a generator bug on one seed must not end a long run: count, take the next
            try:
                clip = self._render(
                    None, bucket.width, bucket.height, bucket.frames, self.config.fps, seed + attempt
                )
                break
            except Exception as e:  # noqa: BLE001 - any failure of the world on one seed
                self.skipped += 1
                log.warning("world clip seed %d failed (%s: %s); %d skipped so far", seed + attempt,
                            type(e).__name__, e, self.skipped)  # fmt: skip
        if clip is None:
            raise RuntimeError(f"the world failed to render 10 seeds in a row from {seed}")
        frames = np.asarray(clip.frames)
        if frames.shape != (bucket.frames, bucket.height, bucket.width, 3):
            raise RuntimeError(f"world clip has shape {frames.shape}, expected {bucket}")
        out = (frames, clip.caption, clip.short_caption or "", object_boxes(clip.truth, frames.shape[:3]))
        if self.config.world_pool and self.config.cache_frames:
            self.frames[key] = out
        return out

    def batch(self, step: int, rank: int = 0) -> Batch:
        world_size = self.world_size
        bucket = self.bucket_for(step)
        n = global_batch_size(bucket, self.buckets, self.config, world_size, self.temporal_factor)
        videos, captions, shorts, keys, indices, boxes = [], [], [], [], [], []
        for i in rank_slice(n, rank, world_size):
            seed = self.clip_seed(step, i, bucket)
            key = ("world", seed, bucket.width, bucket.height, bucket.frames)
            frames, caption, short, foreground = self.clip(key, seed, bucket)
            videos.append(frames_to_tensor(frames))
            boxes.append(torch.from_numpy(foreground).float())
            captions.append(caption)
            shorts.append(short)
            keys.append(key)
            indices.append(i)
        return Batch(torch.stack(videos), captions, shorts, keys, indices, bucket, n, torch.stack(boxes))


def object_boxes(truth: dict, shape: tuple[int, int, int]) -> np.ndarray:
    """(F, H, W) bool map of a world clip's ground truth: True inside each object's box in each frame
    (bool, not float: a pool cached with `cache_frames` keeps one per clip beside its uint8 frames)."""
    out = np.zeros(shape, bool)
    height, width = shape[1:]
    for k, frame in enumerate(truth["frames"]):
        for o in frame["objects"]:
            x0, y0, x1, y1 = o["box"]
            # one pixel of margin each side: anti-aliased edges reach past the polygon (as in render.py)
            x0, y0 = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
            x1, y1 = min(int(np.ceil(x1)) + 2, width), min(int(np.ceil(y1)) + 2, height)
            out[k, y0:y1, x0:x1] = True  # empty when the box lies outside the frame
    return out


@dataclass
class Item:
    path: Path
    caption: str
    short_caption: str
    fps: float
    num_frames: int
    is_image: bool


def read_metadata(folder: Path) -> list[Item]:
    meta = folder / "metadata.jsonl"
    if not folder.is_dir():
        raise InputError(f"data {str(folder)!r} is neither 'world' nor a folder")
    if not meta.is_file():
        raise InputError(f"data folder {str(folder)!r} has no metadata.jsonl (one JSON line per video/image)")
    items = []
    for number, line in enumerate(meta.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            path = folder / row["file"]
            caption = str(row["caption"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{meta} line {number}: needs JSON with 'file' and 'caption' ({e})") from e
        is_image = path.suffix.lower() in IMAGE_SUFFIXES
        items.append(
            Item(
                path=path,
                caption=caption,
                short_caption=str(row.get("short_caption") or ""),
                fps=float(row.get("fps") or 0.0),
                num_frames=1 if is_image else int(row.get("num_frames") or 0),
                is_image=is_image,
            )
        )
    return items


def resize_cover(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale (F, H, W, 3) frames to cover width x height, then centre-crop: native aspect, no distortion."""
    h, w = frames.shape[1:3]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = np.stack([cv2.resize(f, (new_w, new_h), interpolation=interp) for f in frames])
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return out[:, top : top + height, left : left + width]


class FolderData:
    """A folder with metadata.jsonl: each item goes to the bucket nearest its aspect ratio and length."""

    def __init__(self, config: TrainConfig, folder: str | Path, temporal_factor: int, world_size: int = 1):
        self.config = config
        self.world_size = world_size
        self.temporal_factor = temporal_factor  # the VAE's: batch sizes follow latent frames
        self.folder = Path(folder)
        self.sizes = [(int(w), int(h)) for w, h in config.sizes]
        items = read_metadata(self.folder)
        self.items: list[Item] = []
        self.skipped = 0
        self.by_bucket: dict[Bucket, list[int]] = {}
        for item in items:
            if not item.path.is_file():
                self.skip(item.path, "file not found")
                continue
            bucket = self.assign(item)
            if bucket is None:
                continue
            self.by_bucket.setdefault(bucket, []).append(len(self.items))
            self.items.append(item)
        if not self.items:
            raise InputError(
                f"data folder {str(self.folder)!r} has no usable videos or images for frame counts "
                f"{config.frame_counts} ({len(items)} listed, {self.skipped} missing)"
            )
        self.buckets = sorted(self.by_bucket, key=lambda b: (b.frames, b.width, b.height))
        self._epoch_plans: dict[int, list[tuple[Bucket, list[int]]]] = {}

    def describe(self) -> str:
        return f"{len(self.items)} files in {self.folder} over {len(self.buckets)} buckets"

    def skip(self, path: Path, reason: str) -> None:
        self.skipped += 1
        log.warning("skipping %s: %s (%d skipped so far)", path, reason, self.skipped)

    def usable_frames(self, item: Item) -> int:
        if item.is_image:
            return 1
        stride = self.stride(item)
        return (max(item.num_frames, 1) - 1) // stride + 1

    def stride(self, item: Item) -> int:
        return max(1, round(item.fps / self.config.fps)) if item.fps else 1

    def assign(self, item: Item) -> Bucket | None:
        counts = sorted(int(c) for c in self.config.frame_counts)
        fitting = [c for c in counts if c <= self.usable_frames(item)]
        if not fitting:
            return None
        try:
            h, w = self.probe_size(item)
        except InputError as e:
            self.skip(item.path, str(e))
            return None
        aspect = w / h
        width, height = min(self.sizes, key=lambda s: abs(np.log(s[0] / s[1]) - np.log(aspect)))
        return Bucket(width, height, fitting[-1])

    def probe_size(self, item: Item) -> tuple[int, int]:
        """(height, width) from the file itself; metadata may be absent or wrong."""
        frames = read_image(item.path)[None] if item.is_image else read_video(item.path, max_frames=1)[0]
        return frames.shape[1], frames.shape[2]

    def epoch_plan(self, epoch: int) -> list[tuple[Bucket, list[int]]]:
        """All global batches of one epoch: each bucket's items shuffled and chunked, batches shuffled."""
        if epoch not in self._epoch_plans:
            plan = []
            for b_index, bucket in enumerate(self.buckets):
                members = list(self.by_bucket[bucket])
                rng_for(self.config.seed, epoch, 5, b_index).shuffle(members)
                n = global_batch_size(
                    bucket, self.buckets, self.config, self.world_size, self.temporal_factor
                )
                for start in range(0, len(members), n):
                    chunk = members[start : start + n]
                    chunk += [members[k % len(members)] for k in range(n - len(chunk))]  # wrap: fixed size
                    plan.append((bucket, chunk))
            order = rng_for(self.config.seed, epoch, 6).permutation(len(plan))
            self._epoch_plans = {epoch: [plan[k] for k in order]}  # keep one epoch: memory stays flat
        return self._epoch_plans[epoch]

    def batch(self, step: int, rank: int = 0) -> Batch:
        world_size = self.world_size
        plan = self.epoch_plan(0)
        epoch, position = divmod(step, len(plan))
        bucket, members = self.epoch_plan(epoch)[position]
        videos, captions, shorts, keys, indices = [], [], [], [], []
        for i in rank_slice(len(members), rank, world_size):
            index, frames, start = self.load_with_fallback(members[i], bucket, step, i)
            item = self.items[index]
            videos.append(frames_to_tensor(frames))
            captions.append(item.caption)
            shorts.append(item.short_caption)
            keys.append(("file", index, start, bucket.width, bucket.height, bucket.frames))
            indices.append(i)
        return Batch(torch.stack(videos), captions, shorts, keys, indices, bucket, len(members))

    def load_with_fallback(
        self, index: int, bucket: Bucket, step: int, i: int
    ) -> tuple[int, np.ndarray, int]:
        """Load an item; a corrupt one is skipped (counted) and the next item of the bucket takes its place."""
        members = self.by_bucket[bucket]
        position = members.index(index)
        for attempt in range(len(members)):
            candidate = members[(position + attempt) % len(members)]
            try:
                frames, start = self.load(
                    self.items[candidate], bucket, rng_for(self.config.seed, step, 7, i)
                )
                return candidate, frames, start
            except (InputError, ValueError, OSError, cv2.error) as e:
                self.skip(self.items[candidate].path, str(e))
        raise InputError(f"every file of bucket {bucket} is unreadable")

    def load(self, item: Item, bucket: Bucket, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        if item.is_image:
            return resize_cover(read_image(item.path)[None], bucket.width, bucket.height), 0
        stride = self.stride(item)
        span = (bucket.frames - 1) * stride + 1
        start = int(rng.integers(max(1, item.num_frames - span + 1)))
        frames, _ = read_video(item.path, max_frames=start + span)
        frames = frames[start::stride][: bucket.frames]
        if len(frames) < bucket.frames:
            raise InputError(f"has {len(frames) + start} frames, metadata said {item.num_frames}")
        return resize_cover(frames, bucket.width, bucket.height), start


def make_data(config: TrainConfig, temporal_factor: int, world_size: int = 1) -> WorldData | FolderData:
    """The run's data; `temporal_factor` is the VAE's (frames per latent frame after the first)."""
    check_frame_counts(config.frame_counts, temporal_factor)
    if config.data == "world":
        return WorldData(config, temporal_factor, world_size)
    return FolderData(config, config.data, temporal_factor, world_size)


def check_frame_counts(counts: list, temporal_factor: int) -> None:
    """Clips must fill whole latent frames: the causal VAE takes frame 0 alone, then groups of
    `temporal_factor` frames."""
    tf = temporal_factor
    for count in counts:
        if (int(count) - 1) % tf:
            allowed = ", ".join(str(1 + tf * k) for k in range(5))
            raise InputError(
                f"frame count {count} does not fit this VAE ({tf} frames per latent frame): "
                f"use 1 + {tf}k ({allowed}, ...)"
            )
