"""VAE losses: known values, invariances, and that each term responds to what it is for."""

import pytest
import torch
import torch.nn.functional as F

from haneul.train.vae_losses import (
    PatchDiscriminator,
    VAELossWeights,
    discriminator_hinge_loss,
    generator_adversarial_loss,
    gradient_loss,
    kl_loss,
    l1_loss,
    l2_loss,
    psnr,
    seam_loss,
    ssim,
    temporal_loss,
    vae_loss,
)


def edge_video(frames: int = 3, size: int = 24) -> torch.Tensor:
    """A hard vertical edge that moves one pixel per frame."""
    x = torch.full((1, 3, frames, size, size), -0.5)
    for f in range(frames):
        x[:, :, f, :, size // 2 + f :] = 0.5
    return x


def blur(video: torch.Tensor) -> torch.Tensor:
    b, c, f, h, w = video.shape
    img = video.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
    img = F.avg_pool2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return img.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)


def test_pixel_losses_and_psnr():
    a = torch.zeros(1, 3, 2, 8, 8)
    b = torch.full_like(a, 0.5)
    assert l1_loss(a, b).item() == pytest.approx(0.5)
    assert l2_loss(a, b).item() == pytest.approx(0.25)
    assert psnr(a, b).item() == pytest.approx(10 * torch.log10(torch.tensor(4 / 0.25)).item(), rel=1e-5)


def test_ssim_identity_and_constant_images():
    x = torch.rand(2, 3, 2, 16, 16) * 2 - 1
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    # Flat images a and b: variances vanish and SSIM is the luminance term (2ab + c1) / (a^2 + b^2 + c1).
    a, b, c1 = 0.2, -0.3, (0.01 * 2) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    got = ssim(torch.full((1, 3, 1, 16, 16), a), torch.full((1, 3, 1, 16, 16), b)).item()
    assert got == pytest.approx(expected, rel=1e-4)


def test_ssim_ranks_degradations_and_is_symmetric():
    x = edge_video()
    noise = torch.randn_like(x)
    assert ssim(x, x + 0.05 * noise) > ssim(x, x + 0.3 * noise)
    assert ssim(x, blur(x)) < 1.0
    assert ssim(x, blur(x)).item() == pytest.approx(ssim(blur(x), x).item(), abs=1e-6)


def test_gradient_loss_sees_edges_not_offsets():
    x = edge_video()
    assert gradient_loss(x, x).item() == 0
    assert gradient_loss(x + 0.3, x).item() == pytest.approx(0, abs=1e-6)  # a colour shift is L1's job
    assert gradient_loss(blur(x), x) > 0.01
    # Same L1 distance, but a misplaced edge costs far more edge loss than a uniform shift.
    shifted = torch.roll(x, 2, dims=-1)
    assert gradient_loss(shifted, x) > 10 * gradient_loss(x + l1_loss(shifted, x), x)


def test_kl_closed_form():
    mean = torch.zeros(1, 4, 1, 2, 2)
    assert kl_loss(mean, torch.zeros_like(mean)).item() == pytest.approx(0)
    m, lv = 0.5, -1.0
    per_channel = 0.5 * (m * m + torch.exp(torch.tensor(lv)).item() - 1 - lv)
    assert kl_loss(torch.full_like(mean, m), torch.full_like(mean, lv)).item() == pytest.approx(
        4 * per_channel
    )


def test_discriminator_and_hinge():
    disc = PatchDiscriminator(width=8, layers=3)
    logits = disc(torch.rand(2, 3, 3, 32, 48))
    assert logits.shape == (6, 1, 4, 6)
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5; halved sum
    assert discriminator_hinge_loss(real, fake).item() == pytest.approx(0.375)
    assert generator_adversarial_loss(fake).item() == pytest.approx(1.0)


def test_discriminator_learns_real_from_blurred():
    torch.manual_seed(0)
    disc = PatchDiscriminator(width=8, layers=2)
    opt = torch.optim.Adam(disc.parameters(), lr=2e-3)
    real = edge_video(2, 32)
    fake = blur(blur(real))
    for _ in range(20):
        loss = discriminator_hinge_loss(disc(real), disc(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert disc(real).mean() > disc(fake).mean() + 0.5


def held_groups(video: torch.Tensor, tf: int = 4) -> torch.Tensor:
    """The judder the seam loss is for: each latent group's frames show the group's last frame."""
    out = video.clone()
    for start in range(1, video.shape[2], tf):
        out[:, :, start : start + tf] = video[:, :, min(start + tf - 1, video.shape[2] - 1)].unsqueeze(2)
    return out


def test_temporal_and_seam_losses_see_held_frames_not_offsets():
    x = edge_video(frames=9)
    judder = held_groups(x)
    assert temporal_loss(x + 0.3, x).item() == pytest.approx(0, abs=1e-6)
    assert seam_loss(x + 0.3, x, 4).item() == pytest.approx(0, abs=1e-6)
    assert temporal_loss(judder, x) > 0.01
    # The held clip jumps 4 pixels at every group boundary: the seam steps carry most of its error.
    assert seam_loss(judder, x, 4) > 1.5 * temporal_loss(judder, x)
    # Steps inside a group only (frames 1..4 all equal frame 4, none crosses a boundary): no seam error.
    inside = x.clone()
    inside[:, :, 2:4] = x[:, :, 1:2]  # frames 1, 2, 3 held; frame 3 -> 4 jumps inside the group
    assert seam_loss(inside, x, 4).item() == pytest.approx(0, abs=1e-6)
    assert temporal_loss(inside, x) > 0
    image = x[:, :, :1]
    assert temporal_loss(image, image + 1).item() == 0 and seam_loss(image, image + 1, 4).item() == 0


def test_vae_loss_total_is_weighted_sum():
    torch.manual_seed(0)
    target = edge_video()
    recon = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    mean, logvar = torch.randn(1, 4, 1, 3, 3), torch.randn(1, 4, 1, 3, 3)
    weights = VAELossWeights(l1=1.0, l2=0.5, ssim=0.2, gradient=0.3, kl=0.01, temporal=0.7, seam=0.4)
    total, parts = vae_loss(recon, target, mean, logvar, weights)
    names = ("l1", "l2", "ssim", "gradient", "kl", "temporal", "seam")
    expected = sum(getattr(weights, k) * parts[k] for k in names)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert parts["total"] == pytest.approx(total.item())
    total.backward()
    assert recon.grad is not None and recon.grad.abs().sum() > 0


def test_vae_loss_skips_zero_weights_and_needs_logits_for_adversarial():
    target = edge_video()
    mean = logvar = torch.zeros(1, 4, 1, 3, 3)
    _, parts = vae_loss(target, target, mean, logvar, VAELossWeights(l2=0, ssim=0, gradient=0, kl=0))
    assert set(parts) == {"l1", "total"}
    with pytest.raises(ValueError, match="fake_logits"):
        vae_loss(target, target, mean, logvar, VAELossWeights(adversarial=0.1))
    total, parts = vae_loss(
        target, target, mean, logvar, VAELossWeights(kl=0, adversarial=0.1), fake_logits=torch.ones(2)
    )
    assert parts["adversarial"] == pytest.approx(-1.0) and total.item() == pytest.approx(-0.1, abs=1e-5)


def test_ssim_stays_fp32_under_autocast():
    """bf16 would cancel E[x^2] - E[x]^2 into garbage; SSIM must compute in fp32 even inside autocast."""
    x = torch.rand(1, 3, 2, 32, 32) * 0.02 + 0.7  # small variance on a large mean: worst case for bf16
    y = x + 0.001 * torch.randn_like(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = ssim(x, y)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(ssim(x, y).item(), abs=1e-6)
