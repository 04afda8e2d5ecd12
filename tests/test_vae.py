"""The causal video VAE: shapes, input errors, causality, chunked == whole, and that it can learn."""

import json
import time
from dataclasses import asdict

import pytest
import torch

from haneul.errors import InputError
from haneul.models.vae import VAEConfig, VideoVAE
from haneul.train.vae_losses import VAELossWeights, psnr, vae_loss

TINY = dict(latent_channels=4, channels=(8, 16, 16), encoder_blocks=1, decoder_blocks=1, mid_blocks=1)


def tiny_vae(seed: int = 0, randomise: bool = True, **overrides) -> VideoVAE:
    """A tiny VAE; `randomise` also fills the zero-initialised residual branches, so every path is live."""
    torch.manual_seed(seed)
    vae = VideoVAE(VAEConfig(**{**TINY, **overrides})).eval()
    if randomise:
        with torch.no_grad():
            for p in vae.parameters():
                p.add_(torch.randn_like(p) * 0.1)
    return vae


def video(frames: int, h: int = 16, w: int = 16, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, frames, h, w, generator=g) * 2 - 1


@pytest.mark.parametrize("frames", [1, 5, 9])
@pytest.mark.parametrize("h,w", [(16, 16), (16, 32), (32, 16)])
def test_shapes(frames, h, w):
    vae = tiny_vae()
    x = video(frames, h, w)
    z = vae.encode(x)
    assert z.shape == (1, 4, vae.num_latent_frames(frames), h // 8, w // 8)
    y = vae.decode(z)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() >= -1 and y.max() <= 1
    recon, mean, logvar = vae(x)
    assert recon.shape == x.shape and mean.shape == logvar.shape == z.shape


@pytest.mark.parametrize("tf,sf", [(1, 8), (2, 8), (4, 4), (4, 16), (2, 16)])
def test_configurable_factors(tf, sf):
    vae = tiny_vae(temporal_factor=tf, spatial_factor=sf)
    x = video(1 + 2 * tf, 32, 16)
    z = vae.encode(x)
    assert z.shape == (1, 4, 3, 32 // sf, 16 // sf)
    assert vae.decode(z).shape == x.shape


def test_frame_arithmetic():
    vae = tiny_vae()
    assert [vae.num_latent_frames(n) for n in (1, 5, 33, 241)] == [1, 2, 9, 61]
    assert [vae.num_pixel_frames(n) for n in (1, 2, 9, 61)] == [1, 5, 33, 241]


def test_bad_shapes_name_valid_values():
    vae = tiny_vae()
    with pytest.raises(InputError, match=r"frame count 7 .*1 \+ 4k.* 5 or 9"):
        vae.encode(video(7))
    with pytest.raises(InputError, match=r"height 20 .*multiple of 8.* 16 or 24"):
        vae.encode(video(5, 20, 16))
    with pytest.raises(InputError, match=r"width 4 .*multiple of 8.* 8 or 16"):
        vae.encode(video(5, 16, 4))
    with pytest.raises(InputError, match="must be"):
        vae.encode(torch.zeros(1, 1, 5, 16, 16))
    with pytest.raises(InputError, match="latents shape"):
        vae.decode(torch.zeros(1, 3, 2, 2, 2))
    with pytest.raises(InputError, match="frame count 32"):
        vae.num_latent_frames(32)
    with pytest.raises(InputError, match="temporal_factor 4 needs"):
        VideoVAE(VAEConfig(channels=(8, 16), temporal_factor=4, spatial_factor=8))


def test_config_json_round_trip():
    config = VAEConfig(**TINY, scale_factor=0.7, shift_factor=0.1)
    again = VAEConfig(**json.loads(json.dumps(asdict(config))))
    assert again == config


def test_encoder_is_causal():
    """Changing frames after latent frame i's last input frame leaves latents 0..i unchanged."""
    vae = tiny_vae()
    x = video(13)
    z = vae.encode(x)
    for i in range(3):  # latent frame i covers pixel frames up to 4i
        x2 = x.clone()
        x2[:, :, 4 * i + 1 :] = torch.rand_like(x2[:, :, 4 * i + 1 :])
        z2 = vae.encode(x2)
        assert torch.allclose(z[:, :, : i + 1], z2[:, :, : i + 1], atol=1e-6)
        assert not torch.allclose(z[:, :, i + 1 :], z2[:, :, i + 1 :], atol=1e-3)


def test_decoder_is_causal():
    """Changing latent frames after i leaves decoded frames 0..4i unchanged."""
    vae = tiny_vae()
    z = torch.randn(1, 4, 4, 2, 2)
    y = vae.decode(z)
    for i in range(3):
        z2 = z.clone()
        z2[:, :, i + 1 :] = torch.randn_like(z2[:, :, i + 1 :])
        y2 = vae.decode(z2)
        n = 1 + 4 * i
        assert torch.allclose(y[:, :, :n], y2[:, :, :n], atol=1e-6)
        assert not torch.allclose(y[:, :, n:], y2[:, :, n:], atol=1e-3)


def test_image_is_one_frame_video():
    """The first frame is encoded on its own: an image's latent is the first latent of any video it starts."""
    vae = tiny_vae()
    x = video(9)
    assert torch.allclose(vae.encode(x[:, :, :1]), vae.encode(x)[:, :, :1], atol=1e-6)


def test_chunked_equals_whole_sequence():
    vae = tiny_vae()
    x = video(17, 16, 24)
    mean_whole = vae(x, sample=False)[1]
    for chunk in (1, 2, 3, 100):
        assert torch.allclose(vae.encode(x, chunk=chunk), mean_whole, atol=1e-5)
    z = torch.randn(1, 4, 5, 2, 3)
    with torch.no_grad():
        whole = vae.decoder(z, {}).clamp(-1, 1)
    streamed = list(vae.decode_chunks(z))
    assert [c.shape[2] for c in streamed] == [1, 4, 4, 4, 4]
    assert torch.allclose(torch.cat(streamed, dim=2), whole, atol=1e-5)
    assert torch.allclose(vae.decode(z, chunk=3), whole, atol=1e-5)


def test_latent_normalisation():
    vae = tiny_vae()
    x = video(5)
    z = vae.encode(x)
    y = vae.decode(z)
    vae.config.shift_factor, vae.config.scale_factor = 0.3, 2.0
    zn = vae.encode(x)
    assert torch.allclose(zn, (z - 0.3) * 2.0, atol=1e-6)
    assert torch.allclose(vae.decode(zn), y, atol=1e-5)


def test_sampling_is_seeded():
    vae = tiny_vae()
    x = video(5)
    a = vae.encode(x, generator=torch.Generator().manual_seed(3), sample=True)
    b = vae.encode(x, generator=torch.Generator().manual_seed(3), sample=True)
    assert torch.equal(a, b) and not torch.equal(a, vae.encode(x))


def test_residual_blocks_start_as_identity():
    vae = tiny_vae(randomise=False)
    block = vae.encoder.levels[1][0]
    x = torch.randn(1, 16, 3, 4, 4)
    assert torch.equal(block(x, {}), x)


def shapes_clip(frames: int = 5, size: int = 32) -> torch.Tensor:
    """A flat-colour disc and a bar moving over a two-colour background, in [-1, 1]."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = torch.empty(1, 3, frames, size, size)
    for f in range(frames):
        img = torch.where(xx < size // 2, -0.6, 0.4).expand(3, -1, -1).clone()
        img[0] += 0.2
        disc = (xx - 8 - 2 * f) ** 2 + (yy - 12) ** 2 < 36
        bar = (yy > 20 + f) & (yy < 26 + f) & (xx > 4) & (xx < 28)
        img[:, disc] = torch.tensor([0.9, -0.8, -0.5]).view(3, 1)
        img[:, bar] = torch.tensor([-0.9, 0.7, 0.2]).view(3, 1)
        out[0, :, f] = img
    return out


def test_overfits_one_clip():
    """100 Adam steps take a tiny VAE far past what its random init reconstructs: the net can learn."""
    torch.manual_seed(0)
    vae = VideoVAE(VAEConfig(latent_channels=8, channels=(16, 32, 32)))
    x = shapes_clip()
    x = torch.cat([x, x.flip(-1)])  # batch 2: fp32 convs of batch 1 take PyTorch's slow non-oneDNN path
    with torch.no_grad():
        before = psnr(vae(x, sample=False)[0], x).item()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: one thread is as fast, and far faster when the CPU is shared
    try:
        start = time.perf_counter()
        for _ in range(100):
            recon, mean, logvar = vae(x)
            loss, _ = vae_loss(recon, x, mean, logvar, VAELossWeights())
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        after = psnr(vae.decode(vae.encode(x)), x).item()
    assert after > 20 and after > before + 8, (before, after)
    assert seconds < 20
