"""Which local model serves which API model name, and what each one supports.

`sora-2` and `sora-2-pro` (and their dated aliases) map to local haneul model directories; both default to
the bundled model. The API process checks `size` and `seconds` against each model's `ModelInfo`, but it
must not import torch (it has to answer in milliseconds while workers use every core), so the info is
read once at startup by a short-lived child process that loads the pipeline, and cached on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from haneul.errors import InputError

DEFAULT = "default"  # stands for haneul.pipeline.DEFAULT_MODEL_DIR, resolved where torch may be imported
API_MODELS = ("sora-2", "sora-2-pro")
# source frames given to an extension: the causal VAE's first frame plus one latent step; the worker gives
# them and the model makes them again, so the API leaves room for them in the model's length
EXTEND_OVERLAP = 5
ALIASES = {
    "sora-2-2025-10-06": "sora-2",
    "sora-2-2025-12-08": "sora-2",
    "sora-2-pro-2025-10-06": "sora-2-pro",
}


@dataclass
class ServedModel:
    api_name: str  # what clients send as `model`
    model_dir: str
    name: str  # the local model's own name (its card)
    sizes: list[tuple[int, int]]
    fps: float
    max_frames: int
    max_seconds: float  # the longest video the model makes
    modes: list[str]

    def size_names(self) -> list[str]:
        return [f"{w}x{h}" for w, h in self.sizes]


def parse_model_map(specs: list[str]) -> dict[str, str]:
    """`["sora-2=/models/a", "sora-2-pro=/models/b"]` -> {api name: model dir}.

    With no specs, sora-2 and sora-2-pro both serve the bundled model; with specs, exactly those names.
    """
    mapping = {} if specs else dict.fromkeys(API_MODELS, DEFAULT)
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise InputError(
                f"--model {spec!r} must look like NAME=MODEL_DIR, e.g. sora-2=./my-model", param="model"
            )
        mapping[name.strip()] = folder.strip()
    return mapping


def resolve_name(requested: str | None, served: dict[str, ServedModel]) -> ServedModel:
    name = requested or ("sora-2" if "sora-2" in served else next(iter(served)))
    name = ALIASES.get(name, name)
    if name not in served:
        valid = ", ".join(sorted(served) + sorted(a for a in ALIASES if ALIASES[a] in served))
        raise InputError(f"model {requested!r} is not served here; supported: {valid}", param="model")
    return served[name]


def model_info_json(model_dir: str) -> dict:
    """Load the pipeline (imports torch: only call in a worker or a child process) and describe it."""
    from haneul.pipeline import DEFAULT_MODEL_DIR, load_pipeline

    folder = str(DEFAULT_MODEL_DIR if model_dir == DEFAULT else Path(model_dir).resolve())
    info = load_pipeline(folder).info()
    return {
        "model_dir": folder,
        "name": info.name,
        "sizes": [list(s) for s in info.sizes],
        "fps": float(info.fps[0]),
        "max_frames": int(info.max_frames),
        "max_seconds": float(info.max_seconds),
        "modes": list(info.modes),
    }


# what a cached description must hold: every ServedModel field but the API name
INFO_FIELDS = {f.name for f in fields(ServedModel)} - {"api_name"}


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "haneul"


def load_served_models(mapping: dict[str, str], cache_dir: Path | None = None) -> dict[str, ServedModel]:
    """Describe every mapped model, each distinct directory read once by a child process (then cached)."""
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    described: dict[str, dict] = {}
    served = {}
    for api_name, folder in mapping.items():
        if folder not in described:
            described[folder] = _describe(folder, cache_dir)
        d = described[folder]
        served[api_name] = ServedModel(
            api_name=api_name,
            model_dir=d["model_dir"],
            name=d["name"],
            sizes=[tuple(s) for s in d["sizes"]],
            fps=d["fps"],
            max_frames=d["max_frames"],
            max_seconds=d["max_seconds"],
            modes=d["modes"],
        )
    return served


def _describe(folder: str, cache_dir: Path) -> dict:
    """Model info from the cache if the model directory has not changed since, else from a child process."""
    key = folder if folder == DEFAULT else str(Path(folder).resolve())
    cache = cache_dir / "serve-model-info.json"
    entries = _read_cache(cache)
    entry = entries.get(key)
    if entry is not None and entry["stamp"] == _stamp(entry["info"]["model_dir"]):
        return entry["info"]
    code = "import json, sys; from haneul.serve.models import model_info_json; print(json.dumps(model_info_json(sys.argv[1])))"
    run = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True)
    if run.returncode != 0:
        raise InputError(
            f"cannot load model {folder!r}: {run.stderr.strip().splitlines()[-1:]}", param="model"
        )
    info = json.loads(run.stdout.strip().splitlines()[-1])
    entries[key] = {"stamp": _stamp(info["model_dir"]), "info": info}
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    os.replace(tmp, cache)
    return info


def _read_cache(cache: Path) -> dict:
    """The cached descriptions, keeping only well-formed entries: a missing, unreadable or corrupt cache is an
    empty one, and an entry written before a field was added (max_seconds) is left out, so it is described
    again (the cache is rewritten then)."""
    try:
        entries = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}

    def well_formed(entry) -> bool:
        info = entry.get("info") if isinstance(entry, dict) else None
        return isinstance(info, dict) and set(info) >= INFO_FIELDS and "stamp" in entry

    return {key: entry for key, entry in entries.items() if well_formed(entry)}


def _stamp(folder: str) -> list:
    """Changes whenever a file of the model directory does."""
    path = Path(folder)
    if not path.is_dir():
        return []
    return sorted(
        [str(p.relative_to(path)), p.stat().st_mtime_ns, p.stat().st_size]
        for p in path.rglob("*")
        if p.is_file()
    )
