"""The prompt-check encoder (MiniLM) under ONNX Runtime, for processes that embed prompts all day.

One short prompt through MiniLM is small work in many small operators, so torch's per-operator cost is a
large share of it: 8.1 ms under torch (a frozen TorchScript trace) against 3.9 ms under ONNX Runtime on one
core of the 2026-12 AMD machine, and 27.1 against 20.7 ms for a batch of ten (docs/api.md). The arithmetic
is the same fp32 model; the embeddings differ from torch's only in the last bits (1e-6).

The model is exported once (torch's exporter needs the `onnx` package) and kept next to the exemplar
embeddings in the moderation cache, under a hash of what it depends on.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

HiddenStates = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def available() -> bool:
    """Whether ONNX Runtime and the `onnx` package (for the export) are installed (the `serve` extra)."""
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


def cached_model(
    module: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor], key: str, cache_dir: Path
) -> bytes:
    """The exported model, from `cache_dir` if an export for `key` (the encoder, torch's version) is there."""
    name = hashlib.sha256(f"{key}|{torch.__version__}".encode()).hexdigest()[:20]
    path = cache_dir / f"encoder-{name}.onnx"
    if path.is_file():
        return path.read_bytes()
    model = export(module, example)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(model)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs the export at the next start
    return model


def hidden_states(model: bytes, threads: int = 1) -> HiddenStates:
    """A callable like the torch module the model was exported from, running under ONNX Runtime.

    One thread: on a quiet machine, with ten clients creating at once, two threads made the API's creates
    slower (`bench/api_load.py`, alternated runs: create p50 86/85 ms against 72/75 with one; docs/api.md):
    the second core is busy with the clients' requests and the API itself."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # no busy-waiting between operators: the cores are shared with the API and the workers
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def run(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        return torch.from_numpy(session.run(None, feed)[0])

    return run
