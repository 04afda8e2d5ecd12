"""The compression network: a causal 3D convolutional video VAE.

Pixels (B, 3, F, H, W) in [-1, 1] become latents (B, latent_channels, 1 + k, H / sf, W / sf) for
F = 1 + tf * k, and back. It follows the causal video VAEs of MAGVIT-v2, CogVideoX, LTX-Video and Wan2.1:

- Causal in time. Every temporal convolution pads on the past side only (with copies of the first frame),
  and time is compressed by folding pairs of frames into channels, the first frame paired with itself. So
  the first frame is encoded on its own (an image is a one-frame video) and latent frame i depends only on
  pixel frames up to 1 + tf * i. The decoder is causal the same way.
- Streaming. Because nothing looks ahead, a video can be processed in temporal chunks: each causal
  convolution keeps the last frames of its input in a cache (Wan2.1's feat_cache) and prepends them to the
  next chunk, so chunked output equals the whole-sequence output and memory does not grow with duration.
  The whole-sequence pass is the same code with one big chunk.
- Cheap at full resolution, for a 2-core CPU. The image is first folded into patches (space-to-depth, as
  LTX-Video does), so the highest-resolution level runs at H/p with a thin width and per-frame (2D) kernels;
  temporal kernels and width live at the low-resolution levels, where they cost little. Normalisation is
  per pixel over channels (RMS), so it never mixes frames (causality) or positions.
- Every down/up-sampler has a parameter-free shortcut (DC-AE's space-to-channel averaging and
  channel-to-space duplication), and every residual block starts as the identity, so the untrained
  network already passes a coarse picture through and training refines it.
- Gaussian posterior (mean, logvar) trained with a small KL term; `encode` returns the posterior mean,
  normalised by the config's shift and scale so the diffusion model sees roughly unit-variance latents.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from haneul.errors import InputError

# A streaming pass carries, per causal module, what it needs from the previous chunk: the last input frames
# of a convolution, or a marker that an up/down-sampler has already seen the first frame.
Cache = dict[nn.Module, Tensor]


@dataclass
class VAEConfig:
    """The model's config.json: `asdict(config)` to save, `VAEConfig(**json)` to load."""

    in_channels: int = 3
    latent_channels: int = 16  # channels of the latent video the diffusion transformer sees
    channels: tuple[int, ...] = (32, 64, 128)  # width per level, from the highest resolution to the lowest;
    # each step to the next level halves height and width, and spatial_factor / 2**(levels-1) pixels are
    # folded into channels before the first level (2 for the default 8x with three levels)
    encoder_blocks: int = 1  # residual blocks per encoder level
    decoder_blocks: int = 1  # residual blocks per decoder level
    mid_blocks: int = 1  # residual blocks at the latent resolution, in encoder and decoder each
    temporal_kernel: int = 3  # frames seen by the causal temporal convolutions (1 makes the VAE per-frame)
    temporal_levels: int = (
        2  # how many of the lowest-resolution levels use temporal kernels; the others are 2D
    )
    temporal_factor: int = 4  # time compression (1, 2 or 4): F = 1 + tf * k frames -> 1 + k latent frames
    spatial_factor: int = 8  # space compression (4, 8 or 16)
    shift_factor: float = 0.0  # latent normalisation: encode() returns (z - shift) * scale
    scale_factor: float = 1.0  # set after training from latent statistics

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)  # JSON gives a list

    @property
    def patch_size(self) -> int:
        """Pixels per side folded into channels before the first convolution."""
        return self.spatial_factor // 2 ** (len(self.channels) - 1)

    @property
    def temporal_downsamples(self) -> int:
        return int(math.log2(self.temporal_factor))

    def validate(self) -> None:
        levels = len(self.channels)
        if self.temporal_factor not in (1, 2, 4, 8, 16):
            raise InputError(f"temporal_factor {self.temporal_factor} must be a power of two (1, 2, 4)")
        sf, steps = self.spatial_factor, 2 ** (levels - 1)
        if sf < steps or sf % steps or sf & (sf - 1):
            raise InputError(
                f"spatial_factor {sf} must be a power of two and at least 2**(levels-1) = {steps} "
                f"for channels {list(self.channels)}"
            )
        if self.temporal_downsamples > levels - 1:
            raise InputError(
                f"temporal_factor {self.temporal_factor} needs at least {self.temporal_downsamples + 1} "
                f"levels, channels has {levels}"
            )
        if self.temporal_kernel < 1:
            raise InputError(f"temporal_kernel {self.temporal_kernel} must be at least 1")


# ---------------------------------------------------------------------------------------------- layers


class CausalConv3d(nn.Conv3d):
    """A 3D convolution that pads time on the past side only, with copies of the first frame.

    Space is zero-padded as usual ('same' size, or halved with stride 2). Given a cache, the last
    kernel-1 input frames are kept and prepended to the next chunk instead of the first-frame padding,
    which makes a chunked pass equal to a whole-sequence pass.
    """

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], stride: int = 1):
        kt, ks = kernel
        super().__init__(cin, cout, (kt, ks, ks), stride=(1, stride, stride), padding=(0, ks // 2, ks // 2))
        self.time_pad = kt - 1

    def forward(self, x: Tensor, cache: Cache) -> Tensor:
        if self.time_pad:
            past = cache.get(self)
            if past is None:  # first chunk: an image or the start of a video repeats its first frame
                past = x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1)
            x = torch.cat([past, x], dim=2)
            # clone: a slice would keep the whole previous chunk alive
            cache[self] = x[:, :, -self.time_pad :].clone()
        return super().forward(x)


class ChannelNorm(nn.Module):
    """RMS norm over channels at each pixel and frame: it never mixes frames or positions."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(dim=1, keepdim=True) + self.eps).to(x.dtype)
        return x * scale * self.weight.view(1, -1, 1, 1, 1).to(x.dtype)


class ResBlock(nn.Module):
    """norm -> SiLU -> conv, twice, plus the input. kt = 1 makes it per-frame (2D)."""

    def __init__(self, cin: int, cout: int, kt: int):
        super().__init__()
        self.norm1 = ChannelNorm(cin)
        self.conv1 = CausalConv3d(cin, cout, (kt, 3))
        self.norm2 = ChannelNorm(cout)
        self.conv2 = CausalConv3d(cout, cout, (kt, 3))
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, cache: Cache) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)), cache)
        h = self.conv2(F.silu(self.norm2(h)), cache)
        return self.skip(x) + h


class Downsample(nn.Module):
    """Halve height and width (stride-2 conv), and time too if `time`: pairs of frames are folded into
    channels first, the first frame paired with itself so it is encoded alone: 1 + 2m frames -> 1 + m.

    A parameter-free shortcut (DC-AE's residual autoencoding, Chen et al. 2024) adds the space-to-depth
    input averaged over groups of channels, so the conv learns a residual. On our shapes it gave +2 dB
    PSNR after 300 training steps at the same cost.
    """

    def __init__(self, cin: int, cout: int, time: bool):
        super().__init__()
        self.time = time
        folded = cin * (2 if time else 1)
        self.conv = CausalConv3d(folded, cout, (1, 3), stride=2)
        self.shortcut_group = 4 * folded // cout if (4 * folded) % cout == 0 else 0

    def forward(self, x: Tensor, cache: Cache) -> Tensor:
        if self.time:
            if self not in cache:  # the video's first frame
                x = torch.cat([x[:, :, :1], x], dim=2)
                cache[self] = torch.empty(0)
            x = rearrange(x, "b c (f t) h w -> b (c t) f h w", t=2)
        out = self.conv(x, cache)
        if self.shortcut_group:
            x = rearrange(x, "b c f (h p) (w q) -> b (c p q) f h w", p=2, q=2)
            out = out + x.unflatten(1, (-1, self.shortcut_group)).mean(dim=2)
        return out


class Upsample(nn.Module):
    """Double height and width, and time too if `time`, by a conv at low resolution to 4x (or 8x) the
    channels, then depth-to-space. The first latent frame yields one frame, not two (mirror of Downsample).
    The shortcut mirrors Downsample's: the input with each channel repeated goes through the same
    depth-to-space.
    """

    def __init__(self, cin: int, cout: int, time: bool):
        super().__init__()
        self.time = time
        self.factor = 8 if time else 4
        self.conv = CausalConv3d(cin, cout * self.factor, (1, 3))
        self.shortcut_repeat = cout * self.factor // cin if (cout * self.factor) % cin == 0 else 0
        # ICNR init: all sub-positions start with the same kernel, so at init this is a conv followed by
        # nearest-neighbour upsampling, free of the checkerboard artefacts depth-to-space otherwise starts with.
        with torch.no_grad():
            w = self.conv.weight[:: self.factor].clone()
            self.conv.weight.copy_(w.repeat_interleave(self.factor, dim=0))
            self.conv.bias.copy_(self.conv.bias[:: self.factor].repeat_interleave(self.factor))

    def forward(self, x: Tensor, cache: Cache) -> Tensor:
        y = self.conv(x, cache)
        if self.shortcut_repeat:
            y = y + x.repeat_interleave(self.shortcut_repeat, dim=1)
        if not self.time:
            return rearrange(y, "b (c p q) f h w -> b c f (h p) (w q)", p=2, q=2)
        y = rearrange(y, "b (c t p q) f h w -> b c (f t) (h p) (w q)", t=2, p=2, q=2)
        if self not in cache:  # the first latent frame stands for one pixel frame
            y = y[:, :, 1:]
            cache[self] = torch.empty(0)
        return y


# -------------------------------------------------------------------------------------- encoder/decoder


def _level_kernels(config: VAEConfig) -> list[int]:
    """Temporal kernel size per level: the lowest-resolution `temporal_levels` levels see time."""
    levels = len(config.channels)
    return [config.temporal_kernel if i >= levels - config.temporal_levels else 1 for i in range(levels)]


def time_steps(config: VAEConfig) -> list[bool]:
    """Whether the step from level i to i+1 also halves time: the lowest-resolution steps do."""
    steps = len(config.channels) - 1
    return [i >= steps - config.temporal_downsamples for i in range(steps)]


class Encoder(nn.Module):
    """(B, 3, F, H, W) -> posterior (B, 2 * latent, 1 + (F-1)/tf, H/sf, W/sf)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        ch, kts, p = config.channels, _level_kernels(config), config.patch_size
        self.patch = p
        self.conv_in = CausalConv3d(config.in_channels * p * p, ch[0], (1, 3))
        self.levels = nn.ModuleList()
        for i, time in enumerate(time_steps(config) + [None]):
            blocks = [ResBlock(ch[i], ch[i], kts[i]) for _ in range(config.encoder_blocks)]
            if time is not None:
                blocks.append(Downsample(ch[i], ch[i + 1], time))
            self.levels.append(nn.ModuleList(blocks))
        self.mid = nn.ModuleList([ResBlock(ch[-1], ch[-1], kts[-1]) for _ in range(config.mid_blocks)])
        self.norm_out = ChannelNorm(ch[-1])
        self.conv_out = CausalConv3d(ch[-1], 2 * config.latent_channels, (kts[-1], 3))

    def forward(self, video: Tensor, cache: Cache) -> Tensor:
        x = rearrange(video, "b c f (h p) (w q) -> b (c p q) f h w", p=self.patch, q=self.patch)
        x = self.conv_in(x, cache)
        for blocks in self.levels:
            for block in blocks:
                x = block(x, cache)
        for block in self.mid:
            x = block(x, cache)
        return self.conv_out(F.silu(self.norm_out(x)), cache)


class Decoder(nn.Module):
    """(B, latent, 1 + k, h, w) -> (B, 3, 1 + tf * k, h * sf, w * sf), unclamped."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        ch, kts, p = config.channels, _level_kernels(config), config.patch_size
        self.patch = p
        self.conv_in = CausalConv3d(config.latent_channels, ch[-1], (kts[-1], 3))
        self.mid = nn.ModuleList([ResBlock(ch[-1], ch[-1], kts[-1]) for _ in range(config.mid_blocks)])
        self.levels = nn.ModuleList()
        times = time_steps(config)
        for i in reversed(range(len(ch))):
            blocks = [ResBlock(ch[i], ch[i], kts[i]) for _ in range(config.decoder_blocks)]
            if i > 0:
                blocks.append(Upsample(ch[i], ch[i - 1], times[i - 1]))
            self.levels.append(nn.ModuleList(blocks))
        self.norm_out = ChannelNorm(ch[0])
        self.conv_out = CausalConv3d(ch[0], config.in_channels * p * p, (1, 3))

    def forward(self, latents: Tensor, cache: Cache) -> Tensor:
        x = self.conv_in(latents, cache)
        for block in self.mid:
            x = block(x, cache)
        for blocks in self.levels:
            for block in blocks:
                x = block(x, cache)
        x = self.conv_out(F.silu(self.norm_out(x)), cache)
        return rearrange(x, "b (c p q) f h w -> b c f (h p) (w q)", p=self.patch, q=self.patch)


# -------------------------------------------------------------------------------------------- the VAE


class VideoVAE(nn.Module):
    """Causal video VAE. `encode`/`decode` are for inference (no grad, normalised latents, chunked);
    `forward` is for training (sampled posterior, unnormalised mean and logvar)."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.init_weights()

    def init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, ResBlock):
                # The residual branch starts at zero, so every block starts as the identity and the
                # untrained network is a short chain of samplers that trains stably from the first step.
                nn.init.zeros_(module.conv2.weight)
                nn.init.zeros_(module.conv2.bias)
        # The logvar half of the posterior starts input-independent and small (std e^-3 ~ 0.05): the decoder
        # first learns from nearly clean latents; the KL term then widens the posterior where it can.
        logvar_weight = self.encoder.conv_out.weight[self.config.latent_channels :]
        nn.init.zeros_(logvar_weight)
        nn.init.constant_(self.encoder.conv_out.bias[self.config.latent_channels :], -6.0)

    # -- frame arithmetic

    def num_latent_frames(self, num_frames: int) -> int:
        self._check_frames(num_frames)
        return 1 + (num_frames - 1) // self.config.temporal_factor

    def num_pixel_frames(self, latent_frames: int) -> int:
        if latent_frames < 1:
            raise InputError(f"latent frame count {latent_frames} must be at least 1")
        return 1 + self.config.temporal_factor * (latent_frames - 1)

    def _check_frames(self, num_frames: int) -> None:
        tf = self.config.temporal_factor
        if num_frames < 1 or (num_frames - 1) % tf:
            below = 1 + tf * max(0, (num_frames - 1) // tf)
            raise InputError(
                f"frame count {num_frames} is not of the form 1 + {tf}k; nearest valid: {below} or {below + tf}",
                param="num_frames",
            )

    def _check_video(self, video: Tensor) -> None:
        if video.ndim != 5 or video.shape[1] != self.config.in_channels:
            raise InputError(
                f"video shape {tuple(video.shape)} must be (B, {self.config.in_channels}, F, H, W)"
            )
        self._check_frames(video.shape[2])
        sf = self.config.spatial_factor
        for name, size in (("height", video.shape[3]), ("width", video.shape[4])):
            if size < sf or size % sf:
                lower = max(sf, size - size % sf)
                raise InputError(
                    f"{name} {size} is not a multiple of {sf}; nearest valid: {lower} or {lower + sf}",
                    param=name,
                )

    def _check_latents(self, latents: Tensor) -> None:
        if latents.ndim != 5 or latents.shape[1] != self.config.latent_channels:
            raise InputError(
                f"latents shape {tuple(latents.shape)} must be (B, {self.config.latent_channels}, F, h, w)"
            )

    # -- inference

    def _encode_chunks(self, video: Tensor, chunk: int) -> Iterator[Tensor]:
        """Posterior (mean and logvar stacked on channels) for the first frame, then for `chunk` latent
        frames (tf * chunk pixel frames) at a time, with conv state carried across chunks."""
        cache: Cache = {}
        step = self.config.temporal_factor * chunk
        yield self.encoder(video[:, :, :1], cache)
        for start in range(1, video.shape[2], step):
            yield self.encoder(video[:, :, start : start + step], cache)

    @torch.no_grad()
    def encode(
        self,
        video: Tensor,
        generator: torch.Generator | None = None,
        sample: bool = False,
        chunk: int = 4,
    ) -> Tensor:
        """(B, 3, 1 + tf*k, H, W) in [-1, 1] -> normalised latents (B, latent, 1 + k, H/sf, W/sf).

        The posterior mean, or a sample from it if `sample`. `chunk` latent frames are encoded at a time.
        """
        self._check_video(video)
        moments = torch.cat(list(self._encode_chunks(video, chunk)), dim=2).float()
        mean, logvar = moments.chunk(2, dim=1)
        z = mean
        if sample:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + torch.exp(0.5 * logvar.clamp(-30.0, 20.0)) * noise
        return (z - self.config.shift_factor) * self.config.scale_factor

    @torch.no_grad()
    def decode_chunks(self, latents: Tensor, chunk: int = 1) -> Iterator[Tensor]:
        """Stream pixels in [-1, 1]: one frame for the first latent frame, then tf frames per latent frame
        (tf * chunk per step). Memory stays constant however many latent frames there are."""
        self._check_latents(latents)
        z = latents / self.config.scale_factor + self.config.shift_factor
        cache: Cache = {}
        yield self.decoder(z[:, :, :1], cache).float().clamp(-1.0, 1.0)
        for start in range(1, z.shape[2], chunk):
            yield self.decoder(z[:, :, start : start + chunk], cache).float().clamp(-1.0, 1.0)

    def decode(self, latents: Tensor, chunk: int = 4) -> Tensor:
        """Normalised latents (B, latent, 1 + k, h, w) -> video (B, 3, 1 + tf*k, h*sf, w*sf) in [-1, 1]."""
        return torch.cat(list(self.decode_chunks(latents, chunk)), dim=2)

    # -- training

    def forward(
        self, video: Tensor, generator: torch.Generator | None = None, sample: bool = True
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Training pass over the whole clip: (recon, mean, logvar), unnormalised and unclamped.

        The decoder sees a sample from the posterior (the mean if not `sample`).
        """
        self._check_video(video)
        mean, logvar = self.encoder(video, {}).chunk(2, dim=1)
        logvar = logvar.clamp(-30.0, 20.0)
        z = mean
        if sample:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + torch.exp(0.5 * logvar) * noise
        return self.decoder(z, {}), mean, logvar


def round_trip(vae: VideoVAE, frames: np.ndarray) -> np.ndarray:
    """(F, H, W, 3) uint8 -> the VAE's reconstruction, same shape, bf16 autocast as in sampling.

    What the transformer could at best reproduce of these frames; the VAE benches compare against it.
    """
    x = torch.from_numpy(frames).float().div(127.5).sub(1).permute(3, 0, 1, 2)[None]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = vae.decode(vae.encode(x)).float()
    return y[0].clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 3, 0).numpy()
