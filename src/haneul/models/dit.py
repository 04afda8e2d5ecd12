"""The spacetime-patch diffusion transformer (DiT, Peebles & Xie 2023) that denoises latent videos.

A latent video is cut into spacetime patches (`patchify.py`), each patch becomes a token, and a stack of
DiT blocks predicts the rectified-flow velocity of every token (`flow.py`). Pieces, and where they come from:

- 3D rotary positions (`rope.py`, as in Wan 2.1): any grid of patches is a valid input. Optionally also
  where each token sits in its frame, as a fraction of the width and height (`frame_places`): RoPE alone
  leaves a model that starts from pure noise no way to tell top from bottom.
- adaLN-Zero timestep conditioning (DiT), with one shared modulation projection plus a learned per-block
  offset (PixArt-alpha's adaLN-single, also Wan's). The timestep is per latent frame, not per video:
  frames given clean as conditioning carry t = 0 while the rest are noisy, so image-to-video, extension
  and interpolation run through the same weights. A mask channel marks those given frames too.
- Cross-attention to text tokens with a padding mask; normalised queries and keys (qk-norm, LayerNorm
  without bias) keep attention logits bounded in bf16. SwiGLU MLP. Optionally also the caption's pooled
  sentence embedding added to the time embedding (`pooled_text`), so adaLN carries the whole caption.
- Built for CPU speed under bf16 autocast (see `bench/dit_throughput.py`): fused projections, bf16 all the
  way through (no fp32 round trips), an attention path that beats SDPA on the CPU, per-frame (not
  per-token) modulation broadcast over each frame's tokens.
- Optionally a few convolutions at the latents' full resolution after the last block (`Refiner`), so
  detail smaller than a patch has a path other than one linear map per token.
- Videos of different sizes can be packed into one sequence with a block-diagonal attention mask
  (`forward_packed`, as in NaViT / Patch n' Pack).

Guidance is not in here: see `guidance.py`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from haneul.errors import InputError
from haneul.models.patchify import Grid, grid_size, patchify, unpatchify
from haneul.models.rope import apply_rope, axis_pairs, rope_tables


@dataclass
class DiTConfig:
    """The transformer's hyper-parameters; its fields are the model's config.json."""

    in_channels: int = 16  # latent channels (the VAE's latent_channels)
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (t, h, w) latent voxels per token
    hidden_size: int = 384
    depth: int = 8
    num_heads: int = 6  # head_dim = hidden_size / num_heads; must be even for RoPE
    mlp_ratio: float = 4.0  # MLP size as for a plain 4x MLP; SwiGLU uses 2/3 of it per branch (same FLOPs)
    text_dim: int = 384  # all-MiniLM-L6-v2 token features
    freq_dim: int = 256  # sinusoidal features of t fed to the timestep MLP
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6
    refiner_channels: int = 0  # width of the convolutions after the transformer (`Refiner`); 0 = none
    # Octaves of sin/cos features of each token's place in the frame (`frame_places`), added to its embedding;
    # 0 = none (RoPE's relative positions only).
    position_bands: int = 0
    # Add the caption's pooled sentence features (`pooled_text`) to the time embedding, so every block's adaLN
    # modulation sees the whole caption, as DiT's class label does; False = text through cross-attention only.
    pooled_text: bool = False


# name -> config. "s" is the size planned for the bundled model (8-15 M parameters, trainable in about an hour
# here). Measured with `python bench/dit_throughput.py --preset s --threads 1` on the 2-core EPYC, bf16 autocast,
# 2026-11-22, while the machine was shared (load average ~10): training 1442 tokens/s (8 clips x 320 tokens,
# fwd+bwd+AdamW), inference 3726 tokens/s (2 x 576 tokens), 1.63x / 1.74x diffusers' WanTransformer3DModel at
# the same size, MFU 0.60 of the one-thread bf16 matmul rate; a 16-step CFG sample of a 4 s 128x128 clip
# (9x16x16 latents) took 5.2 s on that one contended thread. Two-thread figures: see the bench's docstring.
PRESETS: dict[str, DiTConfig] = {
    "tiny": DiTConfig(in_channels=4, hidden_size=64, depth=2, num_heads=2, freq_dim=32),  # tests
    "xs": DiTConfig(hidden_size=256, depth=8, num_heads=4),  # 9.3 M
    "s": DiTConfig(hidden_size=320, depth=8, num_heads=5),  # 14.4 M
    "m": DiTConfig(hidden_size=384, depth=8, num_heads=6),  # 20.7 M
}


def dit_config(name: str) -> DiTConfig:
    if name not in PRESETS:
        raise InputError(f"unknown DiT preset {name!r}; valid: {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name])  # a copy: callers may change fields


def timestep_features(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal features (..., dim) of t in [0, 1]; t is scaled by 1000 so the usual periods apply."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[..., None] * 1000.0 * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def frame_places(grid: Grid, bands: int) -> Tensor:
    """(N, 4 * bands) features of where each token of a (f, h, w) patch grid sits in its frame, in (f, h, w)
    order: sin and cos of pi * 2^k times the token centre's fraction of the width and of the height.

    Why: RoPE tells attention only how far apart two tokens are. From pure noise (t = 1) every token looks
    alike, so a model with RoPE alone cannot tell the top of the frame from the bottom, and a caption's
    "at the bottom left", or a horizon, has nowhere to go. Fractions rather than indices, so "left" is the same
    place at every size.
    """
    _, h, w = grid
    freqs = math.pi * 2.0 ** torch.arange(bands, dtype=torch.float32)
    ys = ((torch.arange(h, dtype=torch.float32) + 0.5) / h)[:, None] * freqs  # (h, bands)
    xs = ((torch.arange(w, dtype=torch.float32) + 0.5) / w)[:, None] * freqs  # (w, bands)
    rows = torch.cat([ys.sin(), ys.cos()], dim=-1)[:, None].expand(h, w, 2 * bands)
    cols = torch.cat([xs.sin(), xs.cos()], dim=-1)[None].expand(h, w, 2 * bands)
    places = torch.cat([rows, cols], dim=-1).reshape(h * w, 4 * bands)
    return places.repeat(grid[0], 1)


def pooled_text(context: Tensor, context_mask: Tensor) -> Tensor:
    """(B, L, text_dim) token features -> (B, text_dim): the mean of the real tokens, L2-normalised (the
    sentence embedding all-MiniLM-L6-v2 was trained to give), times sqrt(text_dim) so its entries are about
    unit size. A context of length 0 gives zeros.

    Why: session 20 found the transformer's loss unchanged when a caption's kind words are swapped, although
    the encoder's sentence embeddings tell the kinds apart; through adaLN a caption-wide signal reaches
    every token of every block directly, the way DiT's class label does on ImageNet.
    """
    weights = context_mask.to(context.dtype)[..., None]
    mean = (context * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return F.normalize(mean.float(), dim=-1) * math.sqrt(context.shape[-1])


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax attention of q (B, H, N, hd) over k, v (B, H, L, hd); mask broadcastable to (B, H, N, L),
    True = attend. q must already carry the 1/sqrt(hd) scale.

    F.scaled_dot_product_attention everywhere but one case: training on the CPU against a short key
    sequence (cross-attention to the text), where two plain bf16 matmuls around a bf16 softmax are faster
    (measured with torch 2.13 on 2 threads, bf16, fwd+bwd: (3, 5, 1088) queries over 64 text keys 5.7 ms
    against SDPA's 8.5; (8, 5, 320) over 64: 3.3 against 9.8). Self-attention, and all inference, is faster
    with SDPA: fwd+bwd (3, 5, 1088, 64) self-attention 67 ms against 109, (8, 5, 320, 64) 23 against 28;
    inference (1, 5, 1088, 64) 3.1 ms against 12.5, over 64 text keys (3, 5, 1088) 0.7 against 2.8. The plain
    path also stays under 4M scores per head, since it holds the whole score matrix.
    """
    short_keys = k.shape[-2] <= 256 and q.shape[-2] * k.shape[-2] <= 2**22
    if q.device.type == "cpu" and torch.is_grad_enabled() and short_keys:
        scores = q @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=-1) @ v
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x (B, G, T, D) modulated per group by shift/scale (B, G, 1, D)."""
    return torch.addcmul(shift, x, 1 + scale)


class Attention(nn.Module):
    """Multi-head attention with qk-norm; self-attention (fused qkv, RoPE) or cross-attention (fused kv)."""

    def __init__(self, dim: int, num_heads: int, eps: float, cross: bool):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.cross = cross
        if cross:
            self.q = nn.Linear(dim, dim)
            self.kv = nn.Linear(dim, 2 * dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)  # one matmul instead of three: fewer, larger GEMMs
        # qk-norm with LayerNorm (as ViT-22B) rather than RMSNorm: on the CPU, layer_norm has fused bf16
        # forward and backward kernels while rms_norm's backward decomposes into ~10 fp32 passes
        # (measured: 0.7 ms vs 155 ms fwd+bwd on an (8, 6, 320, 64) bf16 tensor).
        self.q_norm = nn.LayerNorm(self.head_dim, eps=eps, bias=False)
        self.k_norm = nn.LayerNorm(self.head_dim, eps=eps, bias=False)
        self.proj = nn.Linear(dim, dim)

    def heads(self, x: Tensor, n: int) -> Tensor:
        """(B, N, n*D) -> n tensors (B, H, N, head_dim)."""
        b, length, _ = x.shape
        return x.view(b, length, n, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        context: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        b, n, d = x.shape
        if self.cross:
            q = self.heads(self.q(x), 1)[0]
            k, v = self.heads(self.kv(context), 2)
        else:
            q, k, v = self.heads(self.qkv(x), 3)
        # The attention scale 1/sqrt(hd) is folded into the query norm's weight (saves a pass over q).
        q_weight = (self.q_norm.weight * self.head_dim**-0.5).to(q.dtype)
        q = F.layer_norm(q, (self.head_dim,), q_weight, None, self.q_norm.eps)
        k = F.layer_norm(k, (self.head_dim,), self.k_norm.weight.to(k.dtype), None, self.k_norm.eps)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        out = attention(q, k, v.type_as(q), mask)  # (B, H, N, head_dim)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class SwiGLU(nn.Module):
    """MLP with a SiLU-gated linear unit (Shazeer 2020): down(silu(gate(x)) * up(x)), gate and up fused.

    The hidden width is 2/3 of mlp_ratio * dim (rounded to a multiple of 64 for bf16 GEMM tiles), so
    parameters and FLOPs match a plain 4x MLP. SiLU rather than GELU also because bf16 GELU-tanh is ~10x
    slower than SiLU on this CPU (28.7 vs 2.9 ms fwd+bwd on 2560x1280, one thread).
    """

    def __init__(self, dim: int, mlp_ratio: float):
        super().__init__()
        hidden = max(64, round(dim * mlp_ratio * 2 / 3 / 64) * 64)
        self.gate_up = nn.Linear(dim, 2 * hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class DiTBlock(nn.Module):
    """Self-attention (RoPE) -> cross-attention to text -> MLP; adaLN-Zero on self-attention and MLP."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        dim, eps = config.hidden_size, config.norm_eps
        self.norm1 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.attn = Attention(dim, config.num_heads, eps, cross=False)
        self.norm2 = nn.LayerNorm(dim, eps=eps)  # cross-attention is not modulated by t (as in PixArt/Wan)
        self.cross_attn = Attention(dim, config.num_heads, eps, cross=True)
        self.norm3 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.mlp = SwiGLU(dim, config.mlp_ratio)
        # Per-block offset added to the shared modulation: (shift, scale, gate) for attention and for MLP.
        self.modulation = nn.Parameter(torch.zeros(6, dim))

    def forward(
        self,
        x: Tensor,
        mod: Tensor,
        rope: tuple[Tensor, Tensor],
        context: Tensor,
        self_mask: Tensor | None,
        cross_mask: Tensor | None,
    ) -> Tensor:
        # x (B, N, D); mod (B, G, 6, D): one modulation per group of N/G consecutive tokens (a latent
        # frame, or a single token when videos are packed).
        b, n, d = x.shape
        groups = mod.shape[1]
        # In mod's dtype (bf16 under autocast): an fp32 offset would promote the residual stream to fp32.
        shift1, scale1, gate1, shift2, scale2, gate2 = (
            (mod + self.modulation.to(mod.dtype)).unsqueeze(2).unbind(3)
        )

        def grouped(y: Tensor) -> Tensor:  # (B, N, D) -> (B, G, N/G, D) so a (B, G, 1, D) mod broadcasts
            return y.view(b, groups, n // groups, d)

        h = modulate(grouped(self.norm1(x)), shift1, scale1).view(b, n, d)
        x = torch.addcmul(grouped(x), grouped(self.attn(h, rope=rope, mask=self_mask)), gate1).view(b, n, d)
        x = x + self.cross_attn(self.norm2(x), context=context, mask=cross_mask)
        h = modulate(grouped(self.norm3(x)), shift2, scale2).view(b, n, d)
        return torch.addcmul(grouped(x), grouped(self.mlp(h)), gate2).view(b, n, d)


class Refiner(nn.Module):
    """Three 3x3 convolutions over each latent frame at full resolution, added to the transformer's velocity.

    A token covers a whole patch (16x16 pixels with the bundled model), and the transformer's output for it
    is one linear map of one vector: a small object's outline (a star's points) must pass through that
    bottleneck. Seen from the noisy latents and the transformer's estimate, side by side on the latent
    grid, an outline is a local pattern a few convolutions can sharpen (the U-Net's job in older models).
    The time of each frame shifts the first layer's features (how much noise there is to remove). The last
    layer starts at zero, so adding a refiner to a trained model keeps its function until training moves it.
    """

    def __init__(self, channels: int, width: int, dim: int):
        super().__init__()
        self.conv_in = nn.Conv2d(2 * channels, width, 3, padding=1)
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(dim, width))
        self.conv_mid = nn.Conv2d(width, width, 3, padding=1)
        self.conv_out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, latents: Tensor, velocity: Tensor, emb: Tensor) -> Tensor:
        """latents, velocity (B, C, F, H, W); emb (B, F, D) time embedding per latent frame."""
        b, c, f, h, w = latents.shape
        x = (
            torch.cat([latents, velocity.to(latents.dtype)], dim=1)
            .transpose(1, 2)
            .reshape(b * f, 2 * c, h, w)
        )
        x = self.conv_in(x) + self.time(emb).reshape(b * f, -1, 1, 1)
        x = self.conv_mid(F.silu(x))
        x = self.conv_out(F.silu(x)).reshape(b, f, c, h, w).transpose(1, 2)
        return velocity + x.to(velocity.dtype)


class DiT(nn.Module):
    """Predicts the flow velocity of a noisy latent video given per-frame times, text and given frames."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        dim = config.hidden_size
        if dim % config.num_heads or (dim // config.num_heads) % 2:
            raise InputError(f"hidden_size {dim} / num_heads {config.num_heads} must be an even integer")
        voxels = math.prod(config.patch_size)
        # +1 input channel: the given-frame mask, so the network knows which frames are clean conditioning.
        self.patch_embed = nn.Linear((config.in_channels + 1) * voxels, dim)
        self.place_embed = nn.Linear(4 * config.position_bands, dim) if config.position_bands else None
        self.time_embed = nn.Sequential(nn.Linear(config.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.text_embed = nn.Sequential(
            nn.Linear(config.text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim)
        )
        self.pooled_embed = (
            nn.Sequential(nn.Linear(config.text_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
            if config.pooled_text
            else None
        )
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))  # shared by all blocks (adaLN-single)
        self.blocks = nn.ModuleList(DiTBlock(config) for _ in range(config.depth))
        self.norm_out = nn.LayerNorm(dim, eps=config.norm_eps, elementwise_affine=False)
        self.adaln_out = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.proj_out = nn.Linear(dim, voxels * config.in_channels)
        self.refiner = (
            Refiner(config.in_channels, config.refiner_channels, dim) if config.refiner_channels else None
        )
        self.init_weights()

    def init_weights(self) -> None:
        """All initialisation lives here.

        - Linear layers: Xavier-uniform weights, zero biases (as DiT and ViT), so activations keep unit scale.
        - Time and text embedding MLPs: normal(0.02), DiT's choice for embedding MLPs.
        - adaLN-Zero: the modulation projection, every block's modulation offset, the cross-attention output
          projection, the final modulation, the output projection, the place embedding and the pooled text
          embedding's last layer are all zero.
          Every block then starts as the identity and the network outputs zero velocity, which DiT found
          trains fastest and most stably. A refiner's last convolution is zero too. The first step trains only the output
          projection; once it is non-zero the gradient reaches the gates, then the blocks (tests check
          every parameter learns within 3 steps).
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for mlp in (self.time_embed, self.text_embed):
            for layer in mlp:
                if isinstance(layer, nn.Linear):
                    nn.init.normal_(layer.weight, std=0.02)
        zeroed = [self.adaln[1], self.adaln_out[1], self.proj_out]
        zeroed += [self.place_embed] if self.place_embed is not None else []
        zeroed += [self.pooled_embed[2]] if self.pooled_embed is not None else []
        zeroed += [block.cross_attn.proj for block in self.blocks]
        for layer in zeroed:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for block in self.blocks:
            nn.init.zeros_(block.modulation)
        if self.refiner is not None:
            nn.init.zeros_(self.refiner.conv_out.weight)
            nn.init.zeros_(self.refiner.conv_out.bias)

    def embed(self, latents: Tensor, given: Tensor) -> Tensor:
        """(B, C, F, H, W) latents + (B, F) given mask -> tokens (B, N, D)."""
        b, _, f, h, w = latents.shape
        mask = given.to(latents.dtype)[:, None, :, None, None].expand(b, 1, f, h, w)
        x = self.patch_embed(patchify(torch.cat([latents, mask], dim=1), self.config.patch_size))
        if self.place_embed is None:
            return x
        grid = grid_size((f, h, w), self.config.patch_size)
        places = frame_places(grid, self.config.position_bands).to(device=x.device, dtype=x.dtype)
        return x + self.place_embed(places)

    def caption_embed(self, context: Tensor, context_mask: Tensor) -> Tensor:
        """(B, D) the pooled caption's embedding, added to the time embedding (models with pooled_text)."""
        return self.pooled_embed(pooled_text(context, context_mask).to(context.dtype))

    def frame_times(self, t: Tensor) -> Tensor:
        """Per latent-frame t (..., F) -> per patch-frame t (..., F/pt), averaged over a temporal patch."""
        pt = self.config.patch_size[0]
        return t.unflatten(-1, (-1, pt)).mean(-1) if pt > 1 else t

    def head(self, x: Tensor, emb: Tensor) -> Tensor:
        """Final adaLN + linear: x (B, N, D), emb (B, G, D) -> (B, N, voxels*C)."""
        b, n, d = x.shape
        shift, scale = self.adaln_out(emb).unsqueeze(2).chunk(2, dim=-1)  # (B, G, 1, D) each
        h = modulate(self.norm_out(x).view(b, emb.shape[1], -1, d), shift, scale)
        return self.proj_out(h.view(b, n, d))

    @staticmethod
    def check_context(context: Tensor, context_mask: Tensor) -> None:
        if context_mask.shape != context.shape[:2]:
            raise InputError(
                f"context_mask {tuple(context_mask.shape)} must be context's (B, L) {tuple(context.shape[:2])}"
            )
        # A row with no real token would make its attention softmax 0/0 (NaN); an empty prompt still has the
        # encoder's special tokens, and a context of length 0 (no text at all) is allowed.
        if context.shape[1] and not bool(context_mask.any(dim=1).all()):
            raise InputError("every context row needs at least one unmasked token (context_mask all False)")

    def check_inputs(self, latents: Tensor, t: Tensor, given: Tensor) -> None:
        if latents.shape[1] != self.config.in_channels:
            raise InputError(
                f"latents have {latents.shape[1]} channels; the model takes {self.config.in_channels}"
            )
        if t.shape != given.shape or t.shape[-1] != latents.shape[2]:
            raise InputError(
                f"t {tuple(t.shape)} and given {tuple(given.shape)} must both be one value per latent frame "
                f"({latents.shape[2]})"
            )

    def forward(
        self, latents: Tensor, t: Tensor, context: Tensor, context_mask: Tensor, given: Tensor
    ) -> Tensor:
        """Velocity prediction (B, C, F, H, W).

        latents (B, C, F, H, W) noisy latents (given frames clean); t (B, F) time per latent frame in [0, 1]
        (1 = pure noise, 0 = clean; given frames have t = 0); context (B, L, text_dim) text token features;
        context_mask (B, L) bool, True = a real token (each row needs at least one); given (B, F) bool.
        """
        self.check_inputs(latents, t, given)
        self.check_context(context, context_mask)
        grid = grid_size(tuple(latents.shape[2:]), self.config.patch_size)
        x = self.embed(latents, given)  # (B, N, D)
        rope = rope_tables(grid, self.config.hidden_size // self.config.num_heads, self.config.rope_theta)
        emb = self.time_embed(timestep_features(self.frame_times(t), self.config.freq_dim))  # (B, F', D)
        if self.pooled_embed is not None:
            emb = emb + self.caption_embed(context, context_mask)[:, None]
        mod = self.adaln(emb).unflatten(-1, (6, -1))  # (B, F', 6, D): one modulation per patch-frame
        context = self.text_embed(context)  # (B, L, D)
        # SDPA takes a boolean mask, True = attend; skip it when nothing is padded (a faster kernel path).
        cross_mask = None if bool(context_mask.all()) else context_mask[:, None, None, :]
        for block in self.blocks:
            x = block(x, mod, rope, context, None, cross_mask)
        x = self.head(x, emb)  # (B, N, voxels*C)
        velocity = unpatchify(x, grid, self.config.patch_size).to(latents.dtype)
        return self.refine(latents, velocity, emb)

    def refine(self, latents: Tensor, velocity: Tensor, emb: Tensor) -> Tensor:
        """The refiner's correction, if the model has one; emb (B, F', D) per patch-frame."""
        if self.refiner is None:
            return velocity
        return self.refiner(latents, velocity, emb.repeat_interleave(self.config.patch_size[0], dim=1))

    def forward_packed(
        self,
        latents: list[Tensor],
        t: list[Tensor],
        context: Tensor,
        context_mask: Tensor,
        given: list[Tensor],
    ) -> list[Tensor]:
        """Videos of different sizes in one sequence; one velocity prediction (C, F, H, W) per video.

        latents[i] (C, F_i, H_i, W_i), t[i] and given[i] (F_i,), context (V, L, text_dim) and context_mask (V, L)
        one row per video. Tokens attend only within their own video (block-diagonal self-attention mask)
        and to their own video's text, so the result equals running each video alone.
        """
        if not (len(latents) == len(t) == len(given) == context.shape[0] == context_mask.shape[0]):
            raise InputError("forward_packed needs one latents, t, given and context row per video")
        self.check_context(context, context_mask)
        head_dim = self.config.hidden_size // self.config.num_heads
        tokens, grids, cos, sin, frame_t, frame_of_token, video_of_token = [], [], [], [], [], [], []
        frames_so_far = 0
        for i, (lat, ti, gi) in enumerate(
            zip(latents, t, given, strict=True)
        ):  # a loop over videos, not tokens
            self.check_inputs(lat[None], ti[None], gi[None])
            grid = grid_size(tuple(lat.shape[1:]), self.config.patch_size)
            tokens.append(self.embed(lat[None], gi[None])[0])
            c, s = rope_tables(grid, head_dim, self.config.rope_theta)
            cos.append(c), sin.append(s), grids.append(grid)
            frame_t.append(self.frame_times(ti))
            per_frame = grid[1] * grid[2]
            frame_of_token.append(torch.arange(grid[0]).repeat_interleave(per_frame) + frames_so_far)
            video_of_token.append(torch.full((math.prod(grid),), i))
            frames_so_far += grid[0]
        x = torch.cat(tokens)[None]  # (1, N, D)
        rope = (torch.cat(cos), torch.cat(sin))
        frame_of_token, video_of_token = torch.cat(frame_of_token), torch.cat(video_of_token)
        # (frames, D): one time embedding per patch-frame of every video
        frame_emb = self.time_embed(timestep_features(torch.cat(frame_t), self.config.freq_dim))
        if self.pooled_embed is not None:
            video_of_frame = torch.arange(len(grids)).repeat_interleave(torch.tensor([g[0] for g in grids]))
            frame_emb = frame_emb + self.caption_embed(context, context_mask)[video_of_frame]
        # Modulate per token: gather each token's own frame's modulation (groups of one token).
        mod = self.adaln(frame_emb).unflatten(-1, (6, -1))[frame_of_token][None]  # (1, N, 6, D)
        emb = frame_emb[frame_of_token][None]  # (1, N, D)
        num_videos, length = context_mask.shape
        ctx = self.text_embed(context).reshape(1, num_videos * length, -1)  # (1, V*L, D)
        video_of_key = torch.arange(num_videos).repeat_interleave(length)
        self_mask = (video_of_token[:, None] == video_of_token[None, :])[None, None]  # (1, 1, N, N)
        cross_mask = (video_of_token[:, None] == video_of_key[None, :]) & context_mask.reshape(1, -1)
        for block in self.blocks:
            x = block(x, mod, rope, ctx, self_mask, cross_mask[None, None])
        out = self.head(x, emb)[0]  # (N, voxels*C)
        sizes = [math.prod(g) for g in grids]
        per_video = frame_emb.split([g[0] for g in grids])  # (F'_i, D): the refiner works video by video
        return [
            self.refine(lat[None], unpatchify(o[None], g, self.config.patch_size).to(lat.dtype), e[None])[0]
            for o, g, lat, e in zip(out.split(sizes), grids, latents, per_video, strict=True)
        ]


def grow_depth(model: DiT, depth: int) -> DiT:
    """A deeper copy of `model` that computes the same function: new blocks spread evenly between the old ones.

    A new block adds its attention, cross-attention and MLP outputs to the residual stream through output
    projections that start at zero, so it is the identity until training moves them (their gradients are
    not zero: the gates come from the shared modulation). Training then starts from the old model's
    function with more capacity (identity layers inserted in a trained network: Net2Net, Chen et al. 2016).
    """
    old = len(model.blocks)
    if depth <= old:
        raise InputError(f"grow_depth {depth} must be more than the model's depth {old}")
    grown = DiT(dataclasses.replace(model.config, depth=depth))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("blocks.")}
    grown.load_state_dict(state, strict=False)
    # Old block i goes to slot round((i + 1) * depth / old) - 1: the last old block stays last.
    slots = [round((i + 1) * depth / old) - 1 for i in range(old)]
    for i, slot in enumerate(slots):
        grown.blocks[slot].load_state_dict(model.blocks[i].state_dict())
    for slot in sorted(set(range(depth)) - set(slots)):
        block = grown.blocks[slot]
        for layer in (block.attn.proj, block.cross_attn.proj, block.mlp.down):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
    return grown


def add_refiner(model: DiT, channels: int) -> DiT:
    """A copy of `model` with a `Refiner` of this width; it computes the same function (the refiner's last
    layer starts at zero), so training continues from the old model with a full-resolution path added."""
    if model.refiner is not None:
        raise InputError(f"the model already has a refiner ({model.config.refiner_channels} channels)")
    if channels <= 0:
        raise InputError(f"refiner channels must be positive, got {channels}")
    return _with_new_part(model, "refiner.", refiner_channels=channels)


def add_positions(model: DiT, bands: int) -> DiT:
    """A copy of `model` that also sees where each token sits in the frame (`frame_places`, this many
    octaves); it computes the same function (the place embedding starts at zero), so training continues from
    the old model."""
    if model.place_embed is not None:
        raise InputError(f"the model already has place features ({model.config.position_bands} bands)")
    if bands <= 0:
        raise InputError(f"position bands must be positive, got {bands}")
    return _with_new_part(model, "place_embed.", position_bands=bands)


def add_pooled_text(model: DiT) -> DiT:
    """A copy of `model` that also adds the caption's pooled features to its time embedding (`pooled_text`);
    it computes the same function (the new embedding's last layer starts at zero)."""
    if model.pooled_embed is not None:
        raise InputError("the model already has a pooled text embedding")
    return _with_new_part(model, "pooled_embed.", pooled_text=True)


def _with_new_part(model: DiT, prefix: str, **changes) -> DiT:
    """A DiT with `model`'s config changed by `changes` and all of its weights; only the new part's (named
    `prefix`...) keep their fresh initialisation."""
    grown = DiT(dataclasses.replace(model.config, **changes))
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(prefix) for k in missing), (missing, unexpected)
    return grown


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "DiT",
    "DiTConfig",
    "PRESETS",
    "dit_config",
    "grow_depth",
    "add_refiner",
    "add_positions",
    "add_pooled_text",
    "pooled_text",
    "frame_places",
    "count_parameters",
    "axis_pairs",
    "Grid",
]
