"""The prompt-check encoder (MiniLM) under ONNX Runtime, for processes that embed prompts all day.

One short prompt through MiniLM is small work in many small operators, so torch's per-operator cost is a
large share of it: 8.1 ms under torch (a frozen TorchScript trace) against 3.9 ms under ONNX Runtime on one
core of the 2026-12 AMD machine, and 27.1 against 20.7 ms for a batch of ten (docs/api.md).

The model is exported once (torch's exporter needs the `onnx` package, a base dependency like ONNX
Runtime) and kept next to the exemplar embeddings in the moderation cache, under a hash of what it depends
on. In fp32 its embeddings differ from torch's only in the last bits (1e-6).

The prompt check runs it with int8 weights (`quantize`): the whole check of a batch of ten world prompts on
one core 49.1 -> 28.1 ms median (alternated in one process, a loaded machine). Its embeddings are not
torch's (cosine 0.993 median to them), but the check decides as before within noise
(docs/safety.md, "Session 9": the same recall on every labelled split, 4 of 3,298 false-positive decisions
changed). The exemplars are embedded by the same int8 model, so prompt and exemplar vectors share its error.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

HiddenStates = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def available() -> bool:
    """Whether ONNX Runtime and the `onnx` package (for the export) are installed (base dependencies; a
    source install without them runs the check in torch)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export(module: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor]) -> bytes:
    """`module(input_ids, attention_mask) -> hidden states` as an ONNX model, batch and length dynamic."""
    buffer = io.BytesIO()
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about the model's Python branches
        torch.onnx.export(
            module.eval(),
            example,
            buffer,
            input_names=["input_ids", "attention_mask"],
            output_names=["hidden"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed
        )
    return buffer.getvalue()


# how `quantize` quantizes: part of the cached int8 model's name, so that other settings build it afresh
QUANTIZATION = {"weight_type": "QInt8", "per_channel": True, "op_types_to_quantize": ["MatMul"]}


def quantize(model: bytes) -> bytes:
    """`model` with the weights of its matrix products in int8, one scale per output channel (activations are
    quantized on the fly). Per channel: half the margin error of one scale per matrix (median 0.005 against
    0.011 over the labelled prompts) at the same speed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = {**QUANTIZATION, "weight_type": QuantType[QUANTIZATION["weight_type"]]}
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        source.write_bytes(model)
        # quantize_dynamic logs advice about pre-processing to the root logger; the caller's level comes back
        previous = logging.root.manager.disable
        logging.disable(max(previous, logging.WARNING))
        try:
            quantize_dynamic(source, target, **settings)
        finally:
            logging.disable(previous)
        return target.read_bytes()


def cached_model(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, torch.Tensor],
    key: str,
    cache_dir: Path,
    int8: bool = False,
    rebuild: bool = False,
) -> bytes:
    """The exported model (`int8`: quantized), from `cache_dir` if one for `key` (the encoder; torch's
    version, and for int8 the settings and ONNX Runtime's version) is there. `rebuild`: export it again
    (a cached file that does not load)."""
    import onnxruntime

    stamp = f"{key}|{torch.__version__}"
    if int8:
        stamp += f"|{sorted(QUANTIZATION.items())}|{onnxruntime.__version__}"
    name = hashlib.sha256(stamp.encode()).hexdigest()[:20]
    path = cache_dir / f"encoder-{name}{'-int8' if int8 else ''}.onnx"
    if path.is_file() and not rebuild:
        model = path.read_bytes()
        mark_used(path)
        return model
    if int8:
        model = quantize(cached_model(module, example, key, cache_dir, rebuild=rebuild))
    else:
        model = export(module, example)
    write_atomically(path, model)
    prune([f for f in cache_dir.glob("encoder-*.onnx") if f.stem.endswith("-int8") == int8], 2, written=path)
    return model


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a temporary file of a unique name (processes of two containers
    sharing the cache can have the same PID), then a rename. A read-only cache only costs the work again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def prune(files: list[Path], keep: int, written: Path | None = None) -> None:
    """Delete all but the `keep` most recently used of `files` (`mark_used` refreshes a file's time on each
    cache hit): each policy edit, encoder or ONNX Runtime version leaves a new cache entry, and old ones would
    pile up (130 in a developer's cache, 750 MB). `written`, the entry just written, always stays: on a coarse
    clock its time can tie with others'. Another process may be reading one: it finds it gone and builds it
    again."""
    try:
        others = [f for f in files if f != written]
        ranked = sorted(others, key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in ranked[max(keep - (written is not None), 0) :]:
            old.unlink(missing_ok=True)
    except OSError:  # a file pruned by another process meanwhile, a read-only cache: nothing to do
        pass


def mark_used(path: Path) -> None:
    """Set `path`'s time to now, so that `prune` keeps the entries still read, not only the newest written."""
    try:
        os.utime(path)
    except OSError:  # pruned meanwhile, a read-only cache
        pass


def hidden_states(
    model: bytes, threads: int = 1, one_at_a_time: bool = False, parallel: int = 1
) -> HiddenStates:
    """A callable like the torch module the model was exported from, running under ONNX Runtime.

    One thread: on a quiet machine, with ten clients creating at once, two threads made the API's creates
    slower (`bench/api_load.py`, alternated runs: create p50 86/85 ms against 72/75 with one; docs/api.md):
    the second core is busy with the clients' requests and the API itself.

    `one_at_a_time`: run each text of a batch alone, without its padding. The int8 model quantizes its
    activations with one scale per tensor, so in a batch a prompt's embedding would depend on the prompts
    beside it (a head margin of +0.17 alone, +0.15 in a batch, seen); alone, a prompt is decided the same way
    whoever else asks. It costs little: 19.1 against 17.8 ms for the 13 inputs of ten world prompts.

    `parallel`: texts run alone on this many threads at once (ONNX Runtime lets go of the GIL while it
    runs). Unlike a second thread inside each small run, which waited on the first, whole texts keep a second
    core busy when the API's concurrent creates arrive together (the workers run at a lower priority)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # no busy-waiting between operators: the cores are shared with the API and the workers
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    pool = ThreadPoolExecutor(parallel) if one_at_a_time and parallel > 1 else None

    def run_batch(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def run(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids, mask = input_ids.numpy(), attention_mask.numpy()
        if not one_at_a_time:
            return torch.from_numpy(run_batch(ids, mask))

        def run_row(row: int) -> np.ndarray:
            keep = mask[row].astype(bool)
            alone = run_batch(ids[row][None, keep], mask[row][None, keep])[0]
            hidden = np.zeros((len(ids[row]), alone.shape[-1]), dtype=alone.dtype)
            hidden[keep] = alone  # padding's hidden states stay zero: pooling masks them out anyway
            return hidden

        rows = pool.map(run_row, range(len(ids))) if pool else map(run_row, range(len(ids)))
        return torch.from_numpy(np.stack(list(rows)))

    return run
