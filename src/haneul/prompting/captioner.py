"""Captions for the user's own training data (recaptioning, DALL-E 3 / Sora): `caption_folder(DIR, URL)`.

Every video and image under DIR is shown to an OpenAI-compatible *vision* chat endpoint (a few frames,
evenly spread, as base64 JPEG data URLs in one user message), which is asked for a detailed caption in
the training style and a short prompt as a person would type it, as JSON. The answers become
DIR/metadata.jsonl, the format `haneul train` reads (docs/dataset.md). Lines are appended as they are
made, so an interrupted run keeps its work and a second run captions only the files not yet listed.
Unreadable files and unusable replies are skipped and counted; an endpoint that stays down stops the run.
World data needs none of this: `haneul world export` writes captions from the ground truth.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from haneul.errors import InputError
from haneul.prompting.chat import ChatError, ChatReplyError, api_key_from_env, chat
from haneul.prompting.llm import WORLD_STYLE, world_examples

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FRAME_SIDE = 512  # frames are sent at most this large: enough to caption, small to send


@dataclass
class Media:
    """What metadata.jsonl needs about one file, and the frames shown to the captioner."""

    width: int
    height: int
    num_frames: int
    fps: float  # 0.0 for an image
    frames: list[np.ndarray]  # (H, W, 3) uint8, a few evenly spread


@dataclass
class CaptionReport:
    out: Path
    written: int = 0
    already: int = 0  # listed in an existing metadata.jsonl, not captioned again
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def find_media(folder: Path) -> list[Path]:
    """Videos and images under `folder`, sorted, hidden files and folders left out."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
            found.append(path)
    return found


def read_media(path: Path, n: int) -> Media:
    """Size, frame count, fps and `n` evenly spread frames; InputError if the file cannot be decoded."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("RGB"))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read image: {e}") from e
        return Media(frame.shape[1], frame.shape[0], 1, 0.0, [frame])
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            total = stream.frames or sum(1 for p in container.demux(stream) if p.size)
        # Second pass: decode and keep only the chosen frames (long videos never sit in memory whole).
        wanted = set(np.linspace(0, max(total - 1, 0), min(n, max(total, 1))).round().astype(int).tolist())
        frames, count = [], 0
        with av.open(str(path)) as container:
            for count, frame in enumerate(container.decode(video=0), 1):
                if count - 1 in wanted:
                    frames.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, IndexError, OSError, ValueError) as e:
        raise InputError(f"cannot read video: {e}") from e
    if not frames:
        raise InputError("no decodable frames")
    h, w = frames[0].shape[:2]
    return Media(w, h, count, fps, frames)


def data_url(frame: np.ndarray, side: int = FRAME_SIDE) -> str:
    image = Image.fromarray(frame)
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def caption_messages(media: Media, examples: int = 2) -> list[dict]:
    """A system prompt with the caption style and examples, then the frames and the request as JSON."""
    shown = "".join(
        f'\n{{"caption": {json.dumps(c)}, "short_caption": {json.dumps(s)}}}'
        for s, c in world_examples(examples)
    )
    system = (
        "You write training captions for a text-to-video model. Describe only what is visible.\n"
        f"Detailed caption style: {WORLD_STYLE}\n"
        "The short caption is a prompt as a person would type it (under 15 words).\n"
        'Answer with JSON only: {"caption": "...", "short_caption": "..."}. Examples:' + shown
    )
    if media.num_frames == 1:
        what = "This is a still image; caption it as a picture."
    else:
        seconds = media.num_frames / media.fps if media.fps else 0.0
        what = (
            f"These are {len(media.frames)} frames evenly spread over a {seconds:.1f} s video "
            f"({media.width}x{media.height}), in order."
        )
    content = [{"type": "text", "text": what}]
    content += [{"type": "image_url", "image_url": {"url": data_url(f)}} for f in media.frames]
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def parse_captions(text: str) -> tuple[str, str]:
    """(caption, short_caption) from the reply's JSON object (code fences and chatter around it allowed)."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else None
        caption, short = (
            " ".join(str(data["caption"]).split()),
            " ".join(str(data.get("short_caption", "")).split()),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"the reply is not the asked-for JSON: {text[:160]!r}") from e
    if not caption:
        raise ValueError("the reply's caption is empty")
    return caption, short


def listed_files(out: Path) -> set[str]:
    """`file` values already in an existing metadata.jsonl (those files are not captioned again)."""
    if not out.is_file():
        return set()
    done = set()
    for line in out.read_text().splitlines():
        try:
            done.add(json.loads(line)["file"])
        except (ValueError, KeyError, TypeError):
            continue
    return done


def caption_folder(
    folder: str | os.PathLike,
    url: str,
    model: str = "default",
    out: str | os.PathLike | None = None,
    num_frames: int = 4,
    api_key: str | None = None,
    timeout: float = 120.0,
    retries: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> CaptionReport:
    """Caption every video and image under `folder` into `out` (default folder/metadata.jsonl)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder of videos and images", param="dir")
    if num_frames < 1:
        raise InputError(f"--frames {num_frames} must be at least 1", param="frames")
    out = Path(out) if out is not None else folder / "metadata.jsonl"
    files = find_media(folder)
    if not files:
        kinds = ", ".join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)
        raise InputError(f"no videos or images under {str(folder)!r}; looked for {kinds}", param="dir")
    report = CaptionReport(out)
    done = listed_files(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    api_key = api_key or api_key_from_env()
    with out.open("a") as sink:
        for k, path in enumerate(files):
            rel = os.path.relpath(path, out.parent)  # metadata.jsonl paths are relative to its folder
            if rel in done:
                report.already += 1
            else:
                line = _caption_one(path, rel, url, model, num_frames, api_key, timeout, retries, report)
                if line:
                    sink.write(json.dumps(line, ensure_ascii=False) + "\n")
                    sink.flush()
                    report.written += 1
            if progress:
                progress(k + 1, len(files))
    return report


def _caption_one(path, rel, url, model, n, api_key, timeout, retries, report) -> dict | None:
    try:
        media = read_media(path, n)
    except InputError as e:
        report.skipped.append((rel, str(e)))
        return None
    try:
        text = chat(url, model, caption_messages(media), api_key=api_key, timeout=timeout, retries=retries)
        caption, short = parse_captions(text)
    except ChatReplyError as e:
        report.skipped.append((rel, str(e)))
        return None
    except ChatError as e:  # the endpoint is down: every other file would fail the same way
        raise InputError(f"the caption endpoint failed on {rel}: {e}", param="endpoint") from e
    except ValueError as e:
        report.skipped.append((rel, str(e)))
        return None
    return {
        "file": rel,
        "caption": caption,
        "short_caption": short,
        "width": media.width,
        "height": media.height,
        "num_frames": media.num_frames,
        "fps": round(media.fps, 6),
    }
