"""Tiny randomly initialised diffusers video pipelines, built locally from diffusers' own config classes.

For tests: every component (tokenizers included) is made here, so nothing is downloaded. The configs
follow diffusers' own pipeline tests (2 layers, widths of 8-32). They make noise, not video.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

KINDS = ("wan", "wan-i2v", "ltx", "ltx-condition", "cogvideox", "cogvideox-i2v", "hunyuan")


def word_tokenizer(vocab_size: int = 64, bos: bool = False):
    """A whitespace word-level fast tokenizer over a few words; other words map to <unk>."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = (
        "a an the red green blue yellow ball box star bounces rolls falls on over grass sky sea sand".split()
    )
    specials = ["<pad>", "</s>", "<unk>", "<s>"]
    vocab = {w: i for i, w in enumerate(specials + words)}
    assert len(vocab) <= vocab_size
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    extra = {"bos_token": "<s>"} if bos else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", **extra
    )


def _t5(d_model: int = 32, umt5: bool = False):
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_cls(
        vocab_size=64,
        d_model=d_model,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return model_cls(config)


def _wan(i2v: bool):
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )

    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36 if i2v else 16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    parts = dict(
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=_t5(umt5=True),
        tokenizer=word_tokenizer(),
    )
    if i2v:  # Wan 2.2-style image-to-video: the image enters through the VAE only, no CLIP image encoder
        return WanImageToVideoPipeline(**parts, image_encoder=None, image_processor=None)
    return WanPipeline(**parts)


def _ltx(condition: bool):
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    cls = LTXConditionPipeline if condition else LTXPipeline
    return cls(
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=_t5(),
        tokenizer=word_tokenizer(),
    )


def _cogvideox(i2v: bool):
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=8 if i2v else 4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=4,
        sample_height=4,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=False,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    cls = CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline
    return cls(
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
        text_encoder=_t5(),
        tokenizer=word_tokenizer(),
    )


def _hunyuan():
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
    )
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )
    llama = LlamaModel(
        LlamaConfig(
            bos_token_id=3,
            eos_token_id=1,
            hidden_size=16,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            pad_token_id=0,
            vocab_size=64,
        )
    )
    clip = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=3,
            eos_token_id=1,
            hidden_size=8,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            pad_token_id=0,
            vocab_size=64,
            projection_dim=32,
        )
    )
    return HunyuanVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=llama,
        tokenizer=word_tokenizer(bos=True),
        text_encoder_2=clip,
        tokenizer_2=word_tokenizer(bos=True),
    )


def make_tiny_diffusers_pipeline(kind: str, folder: str | os.PathLike, seed: int = 0) -> Path:
    """Build a tiny random pipeline of `kind` (one of KINDS) and save it with save_pretrained."""
    builders = {
        "wan": lambda: _wan(False),
        "wan-i2v": lambda: _wan(True),
        "ltx": lambda: _ltx(False),
        "ltx-condition": lambda: _ltx(True),
        "cogvideox": lambda: _cogvideox(False),
        "cogvideox-i2v": lambda: _cogvideox(True),
        "hunyuan": _hunyuan,
    }
    if kind not in builders:
        raise ValueError(f"unknown tiny pipeline {kind!r}; valid: {KINDS}")
    torch.manual_seed(seed)
    pipe = builders[kind]()
    folder = Path(folder)
    pipe.save_pretrained(folder)
    # Tiny pipelines are run at tiny sizes: declare them (see DiffusersPipeline.apply_overrides).
    side = 64 if kind.startswith("ltx") else 32
    (folder / "haneul.json").write_text(json.dumps({"sizes": [[side, side]], "max_frames": 33}) + "\n")
    return folder
