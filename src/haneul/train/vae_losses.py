"""Losses for training the video VAE: pure functions over (B, C, F, H, W) videos in [-1, 1].

No perceptual network (LPIPS/VGG weights cannot be downloaded here), so sharpness comes from losses that
need none: L1 (exact colours), SSIM (local structure, Wang et al. 2004), an image-gradient loss (edges in
the right place and as steep as the target's) and, optionally, a small PatchGAN discriminator with the
hinge loss (Isola et al. 2017; as used by VQGAN and SD's VAE) once the reconstruction is already good.
The KL term keeps the latent space smooth enough to diffuse in; its weight is small, as in SD's VAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


@dataclass
class VAELossWeights:
    """Weight of each term of `vae_loss`; 0 switches a term off (it is then not computed)."""

    # Defaults from overfitting one clip of flat shapes: L1 + L2 learn fastest; SSIM and the edge loss
    # help at 0.1 each but slow early training badly at 0.2 / 0.5 (they reward flat output before colours).
    l1: float = 1.0  # exact colours; robust to the few pixels of a hard edge that are still off
    l2: float = 1.0  # what PSNR measures; large errors first
    ssim: float = 0.1  # (1 - SSIM); SSIM sees structure at 11x11 that per-pixel losses average away
    gradient: float = 0.1  # edge loss: sharp shapes on flat backgrounds are most of what our world has
    kl: float = 1e-6  # small: the latent must stay informative, KL only keeps it bounded and smooth
    adversarial: float = 0.0  # generator hinge term; > 0 needs fake_logits passed to vae_loss
    # Motion between frames. The first bundled decoder held each latent group's frames nearly still and
    # caught up at the next group, a judder every `temporal_factor` frames that made every seam of
    # extend/join jump; the gradient loss's temporal part (weight 0.1, averaged with x and y) did not stop it.
    temporal: float = 0.0  # L1 between the frame-to-frame differences of recon and target, every step
    seam: float = 0.0  # the same on the steps that cross from one latent group to the next only


def frames(video: Tensor) -> Tensor:
    """(B, C, F, H, W) -> (B*F, C, H, W): per-frame image ops."""
    return rearrange(video, "b c f h w -> (b f) c h w")


def l1_loss(recon: Tensor, target: Tensor) -> Tensor:
    return (recon - target).abs().mean()


def l2_loss(recon: Tensor, target: Tensor) -> Tensor:
    return (recon - target).pow(2).mean()


def _gaussian_window(size: int, sigma: float, channels: int, device, dtype) -> Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g.view(1, 1, 1, size).expand(channels, 1, 1, size)  # separable: applied along W then H


def ssim(recon: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Mean SSIM over frames and channels of two videos in [-1, 1] (data range 2), Gaussian window.

    Local means, variances and covariance come from a separable Gaussian blur with no padding, as in the
    reference implementation; frames smaller than the window are blurred with a window cut to fit.
    """
    with torch.autocast(recon.device.type, enabled=False):  # E[x^2] - E[x]^2 cancels badly in bf16
        return _ssim_fp32(frames(recon).float(), frames(target).float(), window, sigma)


def _ssim_fp32(x: Tensor, y: Tensor, window: int, sigma: float) -> Tensor:
    c = x.shape[1]
    window = min(window, x.shape[-1], x.shape[-2])
    g = _gaussian_window(window, sigma, c, x.device, x.dtype)

    def blur(t: Tensor) -> Tensor:
        t = F.conv2d(t, g, groups=c)
        return F.conv2d(t, g.transpose(-1, -2), groups=c)

    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2  # K1, K2 of the paper for data range L = 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean()


def ssim_loss(recon: Tensor, target: Tensor) -> Tensor:
    return 1.0 - ssim(recon, target)


def gradient_loss(recon: Tensor, target: Tensor) -> Tensor:
    """L1 between the horizontal, vertical and temporal finite differences of the two videos.

    It penalises blurred or misplaced edges and flicker, which a plain L1 weighs only by their small area.
    """
    loss = recon.new_zeros(())
    for dim in (4, 3, 2):  # width, height, time
        loss = loss + difference_loss(recon, target, dim)
    return loss


def difference_loss(recon: Tensor, target: Tensor, dim: int, step: slice = slice(None)) -> Tensor:
    """L1 between the two videos' finite differences along `dim` (only at the positions `step` picks);
    0 when that axis has a single entry."""
    if recon.shape[dim] < 2:
        return recon.new_zeros(())
    index = (slice(None),) * dim + (step,)
    return l1_loss(torch.diff(recon, dim=dim)[index], torch.diff(target, dim=dim)[index])


def temporal_loss(recon: Tensor, target: Tensor) -> Tensor:
    """L1 between the frame-to-frame differences of the two videos (0 for single images)."""
    return difference_loss(recon, target, 2)


def seam_loss(recon: Tensor, target: Tensor, temporal_factor: int) -> Tensor:
    """`temporal_loss` on the steps from frame tf*j to tf*j + 1 only: where one latent group ends and the
    next begins (the causal VAE's frame 0 is a group of its own)."""
    return difference_loss(recon, target, 2, slice(0, None, temporal_factor))


def kl_loss(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), summed over latent channels, averaged over positions."""
    kl = 0.5 * (mean.float().pow(2) + logvar.float().exp() - 1.0 - logvar.float())
    return kl.sum(dim=1).mean()


def psnr(recon: Tensor, target: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB for videos in [-1, 1] (peak-to-peak 2)."""
    mse = (recon.float().clamp(-1, 1) - target.float()).pow(2).mean()
    return 10.0 * torch.log10(4.0 / mse.clamp_min(1e-12))


# ------------------------------------------------------------------------------------- adversarial


class PatchDiscriminator(nn.Module):
    """A small per-frame PatchGAN: strided convs to one real/fake logit per ~22x22 patch.

    Per frame, so it judges sharpness and texture, which the pixel losses leave soft; temporal
    consistency is left to the pixel and gradient losses. LeakyReLU, no norm on the first layer, GroupNorm
    after it (BatchNorm's batch statistics would couple the real and fake batches).
    """

    def __init__(self, in_channels: int = 3, width: int = 32, layers: int = 3):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(layers - 1):
            mods += [nn.Conv2d(c, c * 2, 4, 2, 1), nn.GroupNorm(8, c * 2), nn.LeakyReLU(0.2)]
            c *= 2
        mods.append(nn.Conv2d(c, 1, 3, 1, 1))
        self.net = nn.Sequential(*mods)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # DCGAN init: small weights keep early logits near 0
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, video: Tensor) -> Tensor:
        """(B, C, F, H, W) -> logits (B*F, 1, h, w)."""
        return self.net(frames(video))


def discriminator_hinge_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss for the discriminator: push real logits above 1, fake below -1."""
    return 0.5 * (F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """The VAE's (generator's) side of the hinge GAN: raise the discriminator's logits on reconstructions."""
    return -fake_logits.mean()


# ------------------------------------------------------------------------------------------- total


def vae_loss(
    recon: Tensor,
    target: Tensor,
    mean: Tensor,
    logvar: Tensor,
    weights: VAELossWeights,
    fake_logits: Tensor | None = None,
    temporal_factor: int = 4,
) -> tuple[Tensor, dict[str, float]]:
    """Weighted sum of the enabled terms, and each unweighted term (floats, for logging).

    `fake_logits` are the discriminator's logits on `recon` (with gradients to the VAE), needed only when
    weights.adversarial > 0. `temporal_factor` is the VAE's: where the `seam` term looks.
    """
    recon = recon.float()
    target = target.float()
    terms = {
        "l1": (weights.l1, lambda: l1_loss(recon, target)),
        "l2": (weights.l2, lambda: l2_loss(recon, target)),
        "ssim": (weights.ssim, lambda: ssim_loss(recon, target)),
        "gradient": (weights.gradient, lambda: gradient_loss(recon, target)),
        "temporal": (weights.temporal, lambda: temporal_loss(recon, target)),
        "seam": (weights.seam, lambda: seam_loss(recon, target, temporal_factor)),
        "kl": (weights.kl, lambda: kl_loss(mean, logvar)),
    }
    if weights.adversarial > 0:
        if fake_logits is None:
            raise ValueError("weights.adversarial > 0 needs the discriminator's fake_logits")
        terms["adversarial"] = (weights.adversarial, lambda: generator_adversarial_loss(fake_logits))
    total = recon.new_zeros(())
    parts: dict[str, float] = {}
    for name, (weight, compute) in terms.items():
        if weight == 0:
            continue
        value = compute()
        total = total + weight * value
        parts[name] = float(value.detach())
    parts["total"] = float(total.detach())
    return total, parts
