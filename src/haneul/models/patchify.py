"""Spacetime patches: a latent video (B, C, F, H, W) <-> a token sequence (B, N, pt*ph*pw*C).

The visual analogue of text tokens in the Sora report: the latent grid is cut into non-overlapping
(pt, ph, pw) boxes, read in (frame, row, column) order. Any grid whose sides are multiples of the patch
size is valid, which is what lets one set of weights serve every resolution, duration and aspect ratio.
"""

from __future__ import annotations

from einops import rearrange
from torch import Tensor

from haneul.errors import InputError

Grid = tuple[int, int, int]  # (frames, rows, columns) of patches


def grid_size(latent_shape: tuple[int, int, int], patch_size: Grid) -> Grid:
    """Patch grid (F/pt, H/ph, W/pw) of a latent (F, H, W); each side must divide exactly."""
    if any(s % p for s, p in zip(latent_shape, patch_size, strict=True)) or any(s <= 0 for s in latent_shape):
        raise InputError(
            f"latent grid (frames, height, width) {tuple(latent_shape)} is not a positive multiple of "
            f"the patch size {tuple(patch_size)}"
        )
    return tuple(s // p for s, p in zip(latent_shape, patch_size, strict=True))


def patchify(latents: Tensor, patch_size: Grid) -> Tensor:
    """(B, C, F, H, W) -> tokens (B, N, pt*ph*pw*C), N = F/pt * H/ph * W/pw in (f, h, w) order."""
    grid_size(tuple(latents.shape[2:]), patch_size)
    pt, ph, pw = patch_size
    return rearrange(latents, "b c (f pt) (h ph) (w pw) -> b (f h w) (pt ph pw c)", pt=pt, ph=ph, pw=pw)


def unpatchify(tokens: Tensor, grid: Grid, patch_size: Grid) -> Tensor:
    """Inverse of `patchify`: tokens (B, N, pt*ph*pw*C) on a patch grid (f, h, w) -> (B, C, F, H, W)."""
    f, h, w = grid
    pt, ph, pw = patch_size
    return rearrange(
        tokens, "b (f h w) (pt ph pw c) -> b c (f pt) (h ph) (w pw)", f=f, h=h, w=w, pt=pt, ph=ph, pw=pw
    )
