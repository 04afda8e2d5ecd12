"""`haneul worker`: claims queued video jobs from the job store, generates them, writes their files.

Run as many as you like, on one machine or many (against one PostgreSQL and a shared data directory).
Each claims one job at a time (see store.py), heartbeats while it works, reports sampling progress, and
writes every output through `haneul.outputs.save_output` (atomic files: a kill never leaves half a file).
A worker killed mid-job simply stops heartbeating; another worker takes the job up again.

What each job kind does with the pipeline:
- create:     text-to-video; with `input_reference`, that image is the given first frame (image-to-video)
- remix/edit: the source video re-rendered from the new prompt (SDEdit from its inverted latents, `strength`)
- extend:     the last frames of the source are given, the new frames continue them; the result is the
              source followed by the new frames (its `seconds` is the stitched total, as OpenAI's)
- storyboard: shot 1 as `create`, every later shot extends the video so far with its own prompt
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import numpy as np

from haneul.errors import InputError, ModerationBlocked
from haneul.serve.config import ServeConfig
from haneul.serve.media import fit_frames, spritesheet
from haneul.serve.models import DEFAULT, EXTEND_OVERLAP
from haneul.serve.store import Job, JobStore

EDIT_STRENGTH = 0.6


class JobGone(Exception):
    """The job was deleted (or taken over after a missed heartbeat) while this worker ran it."""


class Stopping(Exception):
    """The worker was asked to stop (SIGTERM/SIGINT) in the middle of a job."""


class Worker:
    def __init__(
        self,
        config: ServeConfig,
        store: JobStore,
        worker_id: str | None = None,
        num_steps: int | None = None,
        poll_interval: float = 0.5,
        heartbeat_every: float = 2.0,
        parent_pid: int | None = None,
        expander_url: str = "",
        expander_model: str = "default",
    ):
        self.config = config
        self.store = store
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.num_steps = num_steps
        self.poll_interval = poll_interval
        self.heartbeat_every = heartbeat_every
        self.parent_pid = parent_pid
        # an OpenAI-compatible chat endpoint that expands prompts for every model ("" = each model's own)
        self.expander_url = expander_url
        self.expander_model = expander_model
        self.pipelines: dict[str, object] = {}
        self.current: str | None = None
        self.stop = threading.Event()

    # --- the loop -------------------------------------------------------------------------------------

    def run(self, max_jobs: int | None = None) -> int:
        """Work until stopped (or `max_jobs` done); returns the number of jobs finished."""
        threading.Thread(target=self._heartbeats, daemon=True).start()
        done = 0
        while not self.stop.is_set() and (max_jobs is None or done < max_jobs):
            job = self.store.claim(self.worker_id)
            if job is None:
                self.stop.wait(self.poll_interval)
                continue
            self.run_job(job)
            done += 1
        return done

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())

    def _heartbeats(self) -> None:
        """Beat for the current job; exit with the parent `haneul serve` if it dies (its job gets re-queued)."""
        while True:
            time.sleep(self.heartbeat_every)
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                os._exit(1)
            job_id = self.current
            if job_id is not None:
                try:
                    self.store.heartbeat(job_id, self.worker_id)
                except (
                    Exception
                ):  # a database hiccup: the next beat retries, the stale timeout is the backstop
                    pass

    # --- one job --------------------------------------------------------------------------------------

    def run_job(self, job: Job) -> None:
        folder = self.config.video_dir(job.id)
        self.current = job.id
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for leftover in folder.glob(".*"):  # temp files of an attempt that was killed mid-write
                leftover.unlink(missing_ok=True)
            frames, fps, videos = self.generate(job)
            self.set_progress(job, 92)
            self.write_outputs(videos[-1], frames, fps, folder)
            if not self.store.complete(job.id, self.worker_id, *what_the_model_saw(videos)):
                raise JobGone(job.id)
        except JobGone:
            if self.store.get(job.id) is None:  # deleted: its files go too
                _remove_tree(folder)
        except Stopping:
            self.store.release(job.id, self.worker_id)
        except ModerationBlocked as e:
            self.store.fail(job.id, self.worker_id, "moderation_blocked", f"{e.category}: {e.message}")
        except InputError as e:
            self.store.fail(job.id, self.worker_id, "invalid_request", str(e))
        except Exception as e:  # anything else is our bug or the machine's; the job records it
            self.store.fail(job.id, self.worker_id, "generation_failed", f"{type(e).__name__}: {e}")
        finally:
            self.current = None

    def generate(self, job: Job):
        """Run the pipeline for `job` -> (frames (F, H, W, 3) uint8, fps, the GeneratedVideo of every call)."""
        from haneul.conditioning import FrameCondition

        pipe = self.pipeline(job.model)
        width, height = (int(v) for v in job.size.split("x"))
        fps = float(pipe.info().fps[0])
        common = dict(width=width, height=height, num_steps=self.num_steps)
        folder = self.config.video_dir(job.id)
        seed = int(job.param("seed", 0))

        if job.kind in ("create", "storyboard"):
            shots = job.param("shots") or [{"prompt": job.prompt, "seconds": int(job.seconds)}]
            conditions = []
            if job.param("input_reference"):
                from haneul.video_io import read_image

                conditions = [FrameCondition(frames=read_image(folder / "input.png")[None], frame_index=0)]
            video = pipe.generate(
                shots[0]["prompt"], seconds=shots[0]["seconds"], seed=seed, conditions=conditions,
                progress=self.progress_fn(job, 2, 90 / len(shots)), **common,
            )  # fmt: skip
            frames, videos = video.frames, [video]
            for i, shot in enumerate(shots[1:], start=1):
                low = 2 + 90 * i / len(shots)
                frames, video = self.extend(pipe, frames, shot["prompt"], shot["seconds"], fps, seed + i,
                                            self.progress_fn(job, low, 90 / len(shots)), common)  # fmt: skip
                videos.append(video)
            return frames, fps, videos

        source = self.source_frames(job, width, height, fps)
        if job.kind in ("remix", "edit"):
            video = pipe.generate(
                job.prompt, seconds=max(len(source) - 1, 1) / fps, seed=seed, init_video=source, strength=EDIT_STRENGTH,
                progress=self.progress_fn(job, 2, 88), **common,
            )  # fmt: skip
            return video.frames, fps, [video]
        if job.kind == "extend":
            added = int(job.param("extend_seconds"))
            frames, video = self.extend(
                pipe, source, job.prompt, added, fps, seed, self.progress_fn(job, 2, 88), common
            )
            return frames, fps, [video]
        raise InputError(f"unknown job kind {job.kind!r}")

    def extend(
        self, pipe, frames: np.ndarray, prompt: str, seconds: int, fps: float, seed: int, progress, common
    ):
        """`frames` followed by `seconds` of new video that continues their last frames.

        (The pipeline counts `seconds * fps` frames after the first, rounded up to its frame grid.)
        """
        from haneul.conditioning import FrameCondition

        overlap = min(EXTEND_OVERLAP, len(frames))
        video = pipe.generate(
            prompt, seconds=(overlap + seconds * fps - 1) / fps, seed=seed,
            conditions=[FrameCondition(frames=frames[-overlap:], frame_index=0)], progress=progress, **common,
        )  # fmt: skip
        added = round(seconds * fps)  # the model rounds frame counts up to its grid: keep exactly these
        return np.concatenate([frames, video.frames[overlap : overlap + added]]), video

    def source_frames(self, job: Job, width: int, height: int, fps: float) -> np.ndarray:
        """The frames of the video a remix, edit or extension starts from, at the job's size and fps."""
        from haneul.video_io import read_video

        source = job.param("source") or {}
        if "id" in source:
            path = self.config.video_dir(source["id"]) / "video.mp4"
            if not path.is_file():
                raise InputError(
                    f"source video {source['id']} was deleted before this job ran", param="video"
                )
        else:
            path = self.config.video_dir(job.id) / source.get("file", "source.mp4")
        # read whole: an upload's length and frame count were checked by the API, and our own videos are
        # at most --max-seconds long (a cap in frames cut uploads above 60 fps short)
        frames, source_fps = read_video(path)
        # resample to the model's frame rate by nearest frame, so durations stay true
        count = max(1, round(len(frames) * fps / source_fps))
        picks = np.minimum((np.arange(count) * source_fps / fps).round().astype(int), len(frames) - 1)
        return fit_frames(frames[picks], width, height)

    def write_outputs(self, video, frames: np.ndarray, fps: float, folder: Path) -> None:
        """video.mp4, thumbnail.png (the middle frame) and spritesheet.png, each through save_output."""
        from dataclasses import replace

        from haneul.outputs import save_output

        full = replace(video, frames=frames, fps=fps)
        save_output(full, folder / "video.mp4")
        save_output(replace(full, frames=frames[len(frames) // 2][None]), folder / "thumbnail.png")
        save_output(replace(full, frames=spritesheet(frames)[None]), folder / "spritesheet.png")

    # --- helpers --------------------------------------------------------------------------------------

    def pipeline(self, api_model: str):
        """The loaded pipeline for an API model name (loaded once, shared by names on the same dir)."""
        from haneul.pipeline import DEFAULT_MODEL_DIR, load_pipeline

        folder = self.config.models.get(api_model, DEFAULT)
        folder = str(DEFAULT_MODEL_DIR if folder == DEFAULT else Path(folder).resolve())
        if folder not in self.pipelines:
            pipe = load_pipeline(folder)
            if self.expander_url:  # the LLM expands prompts; the model's own expander is its fallback
                from haneul.prompting.llm import configure_expander

                configure_expander(pipe, True, self.expander_url, self.expander_model)
            self.pipelines[folder] = pipe
        return self.pipelines[folder]

    def progress_fn(self, job: Job, low: float, span: float):
        """A pipeline progress callback that maps sampling steps to low..low+span percent in the store.

        Writes at most ~4 times a second; raises JobGone once the job is no longer this worker's (deleted),
        Stopping when the worker is asked to stop, so no compute is wasted on either.
        """
        last = [0.0]

        def progress(step: int, total: int) -> None:
            if self.stop.is_set():
                raise Stopping()
            now = time.monotonic()
            if now - last[0] < 0.25 and step < total:
                return
            last[0] = now
            self.set_progress(job, int(low + span * step / max(total, 1)))

        return progress

    def set_progress(self, job: Job, value: int) -> None:
        if not self.store.set_progress(job.id, self.worker_id, max(0, min(99, value))):
            raise JobGone(job.id)


def what_the_model_saw(videos: list) -> tuple[str, dict | None]:
    """(caption, expansion) to store with a finished job, from the GeneratedVideo of each pipeline call.

    One call (create, remix, edit, extend): its caption and metadata["expansion"] as they are. A storyboard
    made several calls, one per shot: the captions one per line, and one expansion record with the
    captions, every shot's unknown words (once each) and warnings (prefixed "shot N"), and the source
    ("mixed" when the shots' differ).
    """
    if len(videos) == 1:
        return videos[0].caption, videos[0].metadata.get("expansion")
    caption = "\n".join(v.caption for v in videos)
    expansions = [v.metadata.get("expansion") for v in videos]
    if all(e is None for e in expansions):
        return caption, None
    unknown, warnings, sources = [], [], set()
    for shot, expansion in enumerate(expansions, start=1):
        expansion = expansion or {"unknown_words": [], "warnings": [], "source": "none"}
        unknown += [w for w in expansion["unknown_words"] if w not in unknown]
        warnings += [f"shot {shot}: {w}" for w in expansion["warnings"]]
        sources.add(expansion["source"])
    source = sources.pop() if len(sources) == 1 else "mixed"
    return caption, {"caption": caption, "unknown_words": unknown, "source": source, "warnings": warnings}


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
