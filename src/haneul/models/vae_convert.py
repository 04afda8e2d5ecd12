"""A trained VAE turned into one with half its time compression (4x -> 2x), as a starting point for training.

The highest-resolution sampler that halves time (in the encoder and its mirror in the decoder) stops doing
so; every other weight is kept. The two changed convolutions are rewritten: the encoder's folded frame pair
becomes one frame (the pair's kernels summed), the decoder's two output frames become one (their kernels
averaged), and the parameter-free shortcuts, whose channel grouping changes with the folding, are corrected
inside the convolution. So on a still video the new encoder computes exactly what the old one did; the
decoder is close but not exact, as the old one drew the frames of a latent group differently. (The bundled
4x VAE converted this way reconstructed world clips at 33.2 dB before any training, against its own 32.2.) Moving content is then a fine-tune away rather than a training from scratch: the latents stay
close to the old VAE's, so a transformer trained on them is a starting point too.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from haneul.errors import InputError
from haneul.models.vae import Downsample, Upsample, VideoVAE, time_steps


def halve_time_compression(vae: VideoVAE) -> VideoVAE:
    """A new VideoVAE with temporal_factor / 2, initialised from `vae` (see the module docstring)."""
    config = vae.config
    if config.temporal_factor < 2:
        raise InputError(f"temporal_factor {config.temporal_factor} has no time compression to halve")
    new = VideoVAE(dataclasses.replace(config, temporal_factor=config.temporal_factor // 2))
    step = time_steps(config).index(True)  # the highest-resolution step that halves time
    up_level = len(config.channels) - 2 - step  # the decoder's levels run from low resolution to high
    old_down, new_down = vae.encoder.levels[step][-1], new.encoder.levels[step][-1]
    old_up, new_up = vae.decoder.levels[up_level][-1], new.decoder.levels[up_level][-1]
    shapes = {k: v.shape for k, v in new.state_dict().items()}
    kept = {k: v for k, v in vae.state_dict().items() if v.shape == shapes[k]}
    new.load_state_dict(kept, strict=False)  # all but the two rewritten convolutions, set below
    with torch.no_grad():
        new_down.conv.weight.copy_(_unfolded_down_weight(old_down, new_down))
        weight, bias = _unfolded_up_weight(old_up, new_up)
        new_up.conv.weight.copy_(weight)
        new_up.conv.bias.copy_(bias)
    return new


def _down_shortcut(cin: int, cout: int, group: int, pair: bool) -> Tensor:
    """The Downsample shortcut as a (cout, cin, 1, 3, 3) conv on a still input: output o averages the
    space-to-depth channels [o*group, (o+1)*group), ordered (c t p q) (t only when `pair`)."""
    weight = torch.zeros(cout, cin, 1, 3, 3)
    if not group:
        return weight
    times = 2 if pair else 1
    for j in range(cout * group):
        c, rest = divmod(j, times * 4)
        p, q = divmod(rest % 4, 2)
        weight[j // group, c, 0, 1 + p, 1 + q] += 1.0 / group  # rows/cols 2i+p, 2j+q: taps 1+p, 1+q
    return weight


def _unfolded_down_weight(old: Downsample, new: Downsample) -> Tensor:
    w = old.conv.weight.float()
    cout, folded = w.shape[:2]
    cin = folded // 2
    summed = w.view(cout, cin, 2, *w.shape[2:]).sum(2)  # a still pair is one frame seen twice
    correction = _down_shortcut(cin, cout, old.shortcut_group, True) - _down_shortcut(
        cin, cout, new.shortcut_group, False
    )
    return summed + correction


def _up_shortcut(cin: int, cout_channels: int, repeat: int) -> Tensor:
    """Upsample's shortcut as a (cout_channels, cin) matrix: output k adds input k // repeat."""
    matrix = torch.zeros(cout_channels, cin)
    if repeat:
        for k in range(cout_channels):
            matrix[k, k // repeat] = 1.0
    return matrix


def _unfolded_up_weight(old: Upsample, new: Upsample) -> tuple[Tensor, Tensor]:
    w, b = old.conv.weight.float(), old.conv.bias.float()
    cin = w.shape[1]
    cout = w.shape[0] // 8  # (c t p q) outputs
    weight = w.view(cout, 2, 4, *w.shape[1:]).mean(1).reshape(cout * 4, *w.shape[1:]).clone()
    bias = b.view(cout, 2, 4).mean(1).reshape(-1)
    old_sc = _up_shortcut(cin, cout * 8, old.shortcut_repeat).view(cout, 2, 4, cin).mean(1).reshape(-1, cin)
    weight[:, :, 0, 1, 1] += old_sc - _up_shortcut(cin, cout * 4, new.shortcut_repeat)
    return weight, bias


def with_temporal_factor(vae: VideoVAE, temporal_factor: int) -> VideoVAE:
    """`vae` itself if it already compresses time by `temporal_factor`, else halved until it does."""
    factor = vae.config.temporal_factor
    if temporal_factor < 1 or temporal_factor > factor or factor % temporal_factor:
        raise InputError(
            f"cannot turn a VAE with temporal_factor {factor} into one with {temporal_factor}: "
            "only halving (4 -> 2 -> 1) is supported"
        )
    while vae.config.temporal_factor > temporal_factor:
        vae = halve_time_compression(vae)
    return vae
