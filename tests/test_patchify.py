"""Spacetime patches: exact round trip on every grid kind, token order, and bad grids rejected."""

import pytest
import torch

from haneul.errors import InputError
from haneul.models.patchify import grid_size, patchify, unpatchify


@pytest.mark.parametrize(
    "shape,patch",
    [
        ((1, 8, 8), (1, 2, 2)),  # an image: one latent frame
        ((9, 4, 4), (1, 2, 2)),  # long
        ((3, 4, 12), (1, 2, 2)),  # landscape
        ((3, 12, 4), (1, 2, 2)),  # portrait
        ((4, 6, 8), (2, 2, 2)),  # temporal patches
        ((2, 3, 5), (1, 1, 1)),  # odd sides, one voxel per token
    ],
)
def test_round_trip(shape, patch):
    latents = torch.randn(2, 3, *shape)
    tokens = patchify(latents, patch)
    grid = grid_size(shape, patch)
    assert tokens.shape == (2, grid[0] * grid[1] * grid[2], 3 * patch[0] * patch[1] * patch[2])
    assert torch.equal(unpatchify(tokens, grid, patch), latents)


def test_token_order_is_frame_row_column():
    latents = torch.randn(1, 2, 2, 4, 6)
    tokens = patchify(latents, (1, 2, 2))  # grid (2, 2, 3)
    f, h, w = 1, 0, 2
    index = f * 2 * 3 + h * 3 + w
    box = latents[0, :, f, 2 * h : 2 * h + 2, 2 * w : 2 * w + 2]  # (C, 2, 2)
    # channel is the fastest-varying axis inside a token: (pt ph pw c)
    assert torch.equal(tokens[0, index], box.permute(1, 2, 0).reshape(-1))


@pytest.mark.parametrize("shape", [(1, 7, 8), (1, 8, 5), (0, 8, 8)])
def test_bad_grid_names_sizes(shape):
    with pytest.raises(InputError, match=r"patch size \(1, 2, 2\)"):
        patchify(torch.randn(1, 3, *shape), (1, 2, 2))
