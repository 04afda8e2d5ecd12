"""halve_time_compression: a 4x-time VAE becomes a 2x-time one whose encoder matches it on still videos."""

import pytest
import torch

from haneul.errors import InputError
from haneul.models.vae import VAEConfig, VideoVAE
from haneul.models.vae_convert import halve_time_compression


def _trained_looking(vae: VideoVAE) -> VideoVAE:
    """Random weights everywhere (a fresh VAE's residual branches are zero, which would hide mistakes)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return vae


@pytest.mark.parametrize("channels", [(8, 16, 32), (16, 64, 128)])
def test_still_video_is_encoded_as_before(channels):
    old = _trained_looking(VideoVAE(VAEConfig(latent_channels=4, channels=channels, spatial_factor=4)))
    new = halve_time_compression(old)
    assert new.config.temporal_factor == 2
    still = torch.rand(1, 3, 1, 16, 16).mul(2).sub(1).expand(1, 3, 9, 16, 16).contiguous()
    with torch.no_grad():
        z_old, z_new = old.encode(still), new.encode(still)
        assert z_old.shape[2] == 3 and z_new.shape[2] == 5
        torch.testing.assert_close(z_new, z_old[:, :, :1].expand_as(z_new), atol=1e-4, rtol=1e-4)
        assert new.decode(z_new).shape == old.decode(z_old).shape == still.shape


def test_moving_video_is_not_the_same_function():
    """The test above can fail: on motion the converted VAE differs (what the fine-tune then trains)."""
    old = _trained_looking(VideoVAE(VAEConfig(latent_channels=4, channels=(8, 16, 32), spatial_factor=4)))
    new = halve_time_compression(old)
    moving = torch.rand(1, 3, 9, 16, 16).mul(2).sub(1)
    with torch.no_grad():
        assert not torch.allclose(new.encode(moving)[:, :, 1], old.encode(moving)[:, :, 1], atol=1e-3)


def test_nothing_to_halve_is_an_error():
    vae = VideoVAE(VAEConfig(latent_channels=4, channels=(8, 16), spatial_factor=2, temporal_factor=1))
    with pytest.raises(InputError):
        halve_time_compression(vae)
