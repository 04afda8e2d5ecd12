"""Saving and loading networks as `config.json` + `model.safetensors`, the layout of a model directory.

A haneul model directory:

    haneul.json          what the model is: name, text encoder, native sizes, fps, frame limits, defaults
    README.md            the model card: training commands, steps, wall time, data, benchmark scores
    vae/config.json      VAEConfig fields
    vae/model.safetensors
    dit/config.json      DiTConfig fields
    dit/model.safetensors

Weights are stored in bf16 (small, the bundled default) or fp32, and always loaded into fp32 modules:
on the CPU, bf16 autocast does the fast math while the master weights stay exact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from haneul.errors import InputError

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
MODEL_FILE = "haneul.json"

ConfigT = TypeVar("ConfigT")


def config_to_json(config: Any) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def config_from_json(config_cls: type[ConfigT], data: dict) -> ConfigT:
    """Build a config dataclass, turning JSON lists back into the tuples the dataclass declares."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise InputError(f"unknown {config_cls.__name__} fields {sorted(unknown)}; valid: {sorted(fields)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return config_cls(**values)


def save_module(module: torch.nn.Module, config: Any, folder: str | os.PathLike, dtype: str = "bf16") -> None:
    """Write `folder/config.json` and `folder/model.safetensors`."""
    if dtype not in DTYPES:
        raise InputError(f"weight dtype {dtype!r} is not one of {sorted(DTYPES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(DTYPES[dtype]).contiguous() for k, v in module.state_dict().items()}
    save_file(state, folder / "model.safetensors", metadata={"dtype": dtype})
    (folder / "config.json").write_text(json.dumps(config_to_json(config), indent=2) + "\n")


def load_config(config_cls: type[ConfigT], folder: str | os.PathLike) -> ConfigT:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise InputError(f"missing {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not valid JSON: {e}") from e
    return config_from_json(config_cls, data)


def load_state(module: torch.nn.Module, folder: str | os.PathLike) -> torch.nn.Module:
    """Load `folder/model.safetensors` into `module` (strict), cast to the module's own dtype."""
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"missing {path}")
    try:
        state = load_file(path)
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise InputError(f"cannot read weights {path}: {e}") from e
    own = module.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(
            f"{path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return module


def write_json_atomic(path: str | os.PathLike, data: dict) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def replace_dir_atomic(tmp_dir: Path, target: Path) -> None:
    """Swap a fully written directory into place; a kill at any moment leaves either the old or the new one."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp_dir, target)
    if old.exists():
        shutil.rmtree(old)
