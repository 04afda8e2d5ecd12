"""Atomic training checkpoints: a SIGKILL at any moment, even in the middle of a save, leaves one that loads.

A checkpoint is a directory `OUT/checkpoint/`:

    model.safetensors    the trained weights (fp32)
    ema.safetensors      their exponential moving average (fp32; this is what gets exported as the model)
    optimizer.pt         optimizer state (and any extra trainer state, e.g. a discriminator's)
    state.json           step, config, wall time so far, skipped-file count
    rng.pt               torch RNG states (all the data and noise randomness is a function of (seed, step))

It is written whole into a fresh temporary directory next to it, every file fsynced, then swapped in with
`haneul.weights.replace_dir_atomic` (two renames). If a kill lands between the two renames, only
`checkpoint.old` exists; `find_checkpoint` falls back to it. Optimizer state never goes into a model
directory, and never into git.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from haneul.errors import InputError
from haneul.weights import replace_dir_atomic

# Test hook: seconds to sleep after the files are written and before the swap, so a test can kill the
# process in the middle of a save.
SLEEP_ENV = "HANEUL_TRAIN_SAVE_SLEEP"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(folder)


def cpu_state(module_state: dict) -> dict:
    return {k: v.detach().float().cpu().contiguous() for k, v in module_state.items()}


def save_checkpoint(
    target: Path,
    model_state: dict,
    ema_state: dict,
    optimizer_state: dict,
    state: dict,
) -> None:
    """Write a complete checkpoint to `target` atomically (rank 0 only)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        save_file(cpu_state(model_state), tmp / "model.safetensors")
        save_file(cpu_state(ema_state), tmp / "ema.safetensors")
        torch.save(optimizer_state, tmp / "optimizer.pt")
        torch.save({"torch": torch.get_rng_state()}, tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n")
        fsync_tree(tmp)
        if os.environ.get(SLEEP_ENV):
            time.sleep(float(os.environ[SLEEP_ENV]))
        old = target.with_name(target.name + ".old")
        if old.is_dir() and not target.exists():
            os.replace(old, target)  # a previous kill fell between the renames: restore before swapping
        replace_dir_atomic(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def find_checkpoint(target: Path) -> Path | None:
    """The latest complete checkpoint: `target`, or `target.old` if a kill fell between the two renames."""
    target = Path(target)
    for path in (target, target.with_name(target.name + ".old")):
        if (path / "state.json").is_file():
            return path
    return None


def load_checkpoint(target: Path) -> dict:
    """Everything `save_checkpoint` wrote, as tensors and dicts on the CPU."""
    path = find_checkpoint(target)
    if path is None:
        raise InputError(f"no checkpoint to resume from in {str(target)!r} (start without --resume)")
    try:
        return {
            "path": path,
            "model": load_file(path / "model.safetensors"),
            "ema": load_file(path / "ema.safetensors"),
            "optimizer": torch.load(path / "optimizer.pt", weights_only=False),
            "rng": torch.load(path / "rng.pt", weights_only=False),
            "state": json.loads((path / "state.json").read_text()),
        }
    except (OSError, RuntimeError, json.JSONDecodeError) as e:
        raise InputError(f"checkpoint {str(path)!r} cannot be read: {e}") from e


def clean_stale_tmp(folder: Path, name: str) -> None:
    """Remove half-written checkpoint directories a kill left behind."""
    for path in Path(folder).glob(f".{name}.tmp-*"):
        shutil.rmtree(path, ignore_errors=True)
