"""Invisible watermark: a "haneul" mark and a 32-bit generation id hidden in the frames' luma.

Designed for small frames (96-160 px sides, 9-33 frames) and for three attacks: H.264 re-encoding at CRF 28,
resizing to half size and cropping 10%. The scheme is classic spread spectrum, in the Fourier domain of a
tile (Kalker et al., "Video watermarking system for broadcast monitoring", 1999; Cox et al., "Secure spread
spectrum watermarking for multimedia", 1997):

- Every frame gets the same 64x64 tile, repeated over the frame (a static pattern: H.264 copies it from
  frame to frame almost for free, and averaging the frames at detection removes moving content).
- The tile is a sum of Fourier components in a ring of 2.5-14 cycles per tile (0.04-0.22 cycles per pixel:
  low enough to survive halving the size and CRF 28, high enough to stay out of most of the picture's
  energy). Each real degree of freedom (the real or the imaginary part of one coefficient) carries +-1
  times a key-derived sign: 30% of them form a fixed sync pattern, the rest carry the payload.
- Payload: 32 bits of the generation id + a 16-bit CRC over b"haneul" + those bits (the marker), coded
  with the rate-1/3, constraint-length-9 convolutional code (557, 663, 711) and decoded by soft Viterbi.

Detection: average the frames' luma, keep the high-pass residual, divide it by its local energy (edges
and textures are the loudest noise; flat areas carry the mark cleanly), fold it modulo the tile, and
phase-correlate with the sync pattern. Because the pattern is periodic, a crop is only a cyclic shift of
the folded tile (found by the correlation peak), and a resize changes its period (found by trying scales;
at each scale the high-pass and the local energy are measured over the same share of the tile).
"Detected" means a payload with a valid CRC at a sync peak of score >= Z_PAYLOAD, or, when the payload
is unreadable, a sync peak alone of score >= Z_SYNC; the thresholds are set from measured scores on
videos without the mark (bench/watermark_eval.py).

The key below is public, so anyone can detect the mark (and a determined attacker who knows it can
remove it); an operator can set a private key with HANEUL_WATERMARK_KEY.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import math
import os
from dataclasses import asdict, dataclass

import cv2
import numpy as np

DEFAULT_KEY = "haneul-watermark-v1"
TILE = 64  # pixels; the pattern repeats with this period
RING = (2.5, 14.0)  # cycles per tile
SYNC_SHARE = 0.3  # share of the degrees of freedom (and of the energy) given to the sync pattern
STRENGTH = 3.0  # RMS of the luma change in 8-bit levels: PSNR = 20 log10(255 / 3.0) = 38.6 dB before clipping
HIGHPASS_SIGMA = 3.0  # detection residual = luma - Gaussian blur of this sigma
VAR_FLOOR = 4.0  # residual / (local residual energy + VAR_FLOOR): flat areas count most
ID_BITS = 32
CRC_BITS = 16
GENERATORS = (0o557, 0o663, 0o711)  # rate-1/3, K=9 (maximum free distance 18; 256 states)
CONSTRAINT = 9
Z_PAYLOAD = 4.0  # min sync score at which a CRC-valid payload is accepted
Z_SYNC = 7.0  # sync score that alone says "marked" (payload unreadable); unmarked max was 6.0 in 1200
SCALES = tuple(np.geomspace(0.45, 2.2, 80))  # resize factors searched after 1.0 and 0.5 (steps of 2%)
CANDIDATES = 3  # sync peaks whose payload is decoded
BANDS = 6  # radius bands whose reliability is estimated separately when decoding
BAND_WEIGHTING = True
INFORMED_SHARE = 0.7  # share of the mark's energy shaped against the host (informed_pattern); 0 = fixed only
HOST_FLOOR = 0.5  # informed_pattern's margin against attack noise, in median host magnitudes


@dataclass(frozen=True)
class WatermarkResult:
    detected: bool
    generation_id_prefix: str | None  # 8 hex digits when the payload was read (its CRC is valid)
    payload_valid: bool
    score: float  # sync peak in standard deviations of the correlation surface
    confidence: float  # 1 - an estimate of the chance that an unmarked video scores this well
    scale: float  # the resize factor at which the mark was found
    shift: tuple[int, int]  # (dy, dx) of the tile origin, modulo TILE: a crop of (y, x) pixels gives (-y, -x)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Layout:
    """Which Fourier coefficient carries what, derived from the key."""

    iy: np.ndarray  # row index in the rfft2 spectrum of each ring coefficient
    ix: np.ndarray  # column index
    sync_dof: np.ndarray  # degrees of freedom (2 * coefficient + part) of the sync pattern
    data_dof: np.ndarray  # degrees of freedom carrying coded bits
    signs: np.ndarray  # key-derived sign of every degree of freedom
    bit_of: np.ndarray  # coded-bit index carried by each data degree of freedom
    sync_spec: np.ndarray  # (TILE, TILE // 2 + 1) complex spectrum of the sync pattern
    ring: np.ndarray  # (TILE, TILE // 2 + 1) bool
    band: np.ndarray  # radius band (0 .. BANDS - 1) of each ring coefficient


def num_coded_bits() -> int:
    return (ID_BITS + CRC_BITS + CONSTRAINT - 1) * len(GENERATORS)


@functools.cache
def _layout(key: str) -> _Layout:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))
    fy = np.fft.fftfreq(TILE)[:, None] * TILE
    fx = np.fft.rfftfreq(TILE)[None, :] * TILE
    radius = np.hypot(fy, fx)
    ring = (radius >= RING[0]) & (radius <= RING[1])
    ring[:, 0] &= fy[:, 0] > 0  # column 0 holds conjugate pairs: keep one of each
    iy, ix = np.nonzero(ring)
    n_dof = 2 * len(iy)
    order = rng.permutation(n_dof)
    signs = rng.choice([-1.0, 1.0], n_dof)
    n_sync = int(n_dof * SYNC_SHARE)
    sync_dof, data_dof = order[:n_sync], order[n_sync:]
    bit_of = np.arange(len(data_dof)) % num_coded_bits()
    sync_spec = _spectrum(iy, ix, signs[sync_dof], sync_dof)
    # bands of equal coefficient counts, from the inner edge of the ring to the outer one
    order_r = np.argsort(radius[iy, ix], kind="stable")
    band = np.empty(len(iy), np.int64)
    band[order_r] = np.arange(len(iy)) * BANDS // len(iy)
    return _Layout(iy, ix, sync_dof, data_dof, signs, bit_of, sync_spec, ring, band)


def _spectrum(iy: np.ndarray, ix: np.ndarray, values: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """A tile spectrum with `values` on the given degrees of freedom (even = real part, odd = imaginary)."""
    spec = np.zeros((TILE, TILE // 2 + 1), complex)
    coef = dof // 2
    np.add.at(spec, (iy[coef], ix[coef]), np.where(dof % 2 == 0, 1.0, 1j) * values)
    return spec


def watermark_key() -> str:
    return os.environ.get("HANEUL_WATERMARK_KEY", DEFAULT_KEY)


# --- payload: id + CRC, convolutional code -----------------------------------------------------------------


def _crc(id_value: int) -> int:
    return binascii.crc_hqx(b"haneul" + id_value.to_bytes(ID_BITS // 8, "big"), 0)


def payload_bits(generation_id: str) -> np.ndarray:
    """The 48 payload bits for a generation id: its first 8 hex digits, then the CRC."""
    try:
        id_value = int(generation_id[: ID_BITS // 4], 16)
    except ValueError as e:
        raise ValueError(f"generation id {generation_id!r} must start with {ID_BITS // 4} hex digits") from e
    value = (id_value << CRC_BITS) | _crc(id_value)
    n = ID_BITS + CRC_BITS
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def read_payload(bits: np.ndarray) -> str | None:
    """The generation id prefix if the CRC matches, else None."""
    value = int("".join(str(int(b)) for b in bits), 2)
    id_value, crc = value >> CRC_BITS, value & ((1 << CRC_BITS) - 1)
    return f"{id_value:0{ID_BITS // 4}x}" if _crc(id_value) == crc else None


def _parity(x: np.ndarray | int) -> np.ndarray:
    x = np.asarray(x)
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x = x >> 1
    return out


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Rate-1/3 convolutional code, terminated with CONSTRAINT - 1 zero bits."""
    reg, out = 0, []
    for u in list(bits) + [0] * (CONSTRAINT - 1):
        reg = ((reg << 1) | int(u)) & ((1 << CONSTRAINT) - 1)
        out += [(reg & g).bit_count() & 1 for g in GENERATORS]
    return np.array(out, np.uint8)


@functools.cache
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """For each next state m and each of its 2 predecessors: the predecessor state and the code signs."""
    n_states = 1 << (CONSTRAINT - 1)
    m = np.arange(n_states)
    preds = np.stack([(m >> 1) | (b << (CONSTRAINT - 2)) for b in (0, 1)], 1)  # (S, 2)
    regs = ((preds << 1) | (m[:, None] & 1)) & ((1 << CONSTRAINT) - 1)
    signs = np.stack([2.0 * _parity(regs & g) - 1 for g in GENERATORS], -1)  # (S, 2, n)
    return preds, signs


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi decoding; soft[i] > 0 means coded bit i is more likely 1."""
    preds, signs = _trellis()
    n_out = len(GENERATORS)
    steps = len(soft) // n_out
    metric = np.full(len(preds), -np.inf)
    metric[0] = 0.0
    back = np.zeros((steps, len(preds)), np.int64)
    rows = np.arange(len(preds))
    for t in range(steps):
        cand = metric[preds] + signs @ soft[t * n_out : (t + 1) * n_out]  # (S, 2)
        best = np.argmax(cand, 1)
        back[t] = preds[rows, best]
        metric = cand[rows, best]
    state, bits = 0, []
    for t in range(steps - 1, -1, -1):
        bits.append(state & 1)
        state = back[t, state]
    return np.array(bits[::-1][: steps - (CONSTRAINT - 1)], np.uint8)


# --- embedding ----------------------------------------------------------------------------------------------


def _targets(generation_id: str, layout: _Layout) -> np.ndarray:
    """The +-1 every degree of freedom should carry: its key sign, times the coded bit for data ones."""
    coded = conv_encode(payload_bits(generation_id))
    values = layout.signs.copy()
    values[layout.data_dof] *= 2.0 * coded[layout.bit_of] - 1
    return values


def tile_pattern(generation_id: str, key: str | None = None) -> np.ndarray:
    """The (TILE, TILE) float pattern of RMS 1 for a generation id (the same for every host)."""
    layout = _layout(key or watermark_key())
    values = _targets(generation_id, layout)
    data = np.fft.irfft2(
        _spectrum(layout.iy, layout.ix, values[layout.data_dof], layout.data_dof), s=(TILE, TILE)
    )
    sync = np.fft.irfft2(layout.sync_spec, s=(TILE, TILE))
    pattern = math.sqrt(SYNC_SHARE) * sync / sync.std() + math.sqrt(1 - SYNC_SHARE) * data / data.std()
    return pattern / np.sqrt((pattern**2).mean())


def informed_pattern(
    frames: np.ndarray, generation_id: str, rms: float, key: str | None = None
) -> np.ndarray:
    """A (TILE, TILE) pattern of RMS `rms` (8-bit levels) shaped against this host, as the detector sees it.

    The detector reads each ring coefficient's phase; the host's own texture puts a random phase there,
    which on noise-like clips drowns a mark of fixed shape (about 1 id in 6 was lost with no attack).
    The embedder knows the host, so it spends the mark where it moves the detector most (informed
    embedding; Cox, Miller & McKellips, "Watermarking as communications with side information", 1999):
    for each coefficient it picks the change m maximising the soft-normalised agreement
    Re(conj(T) F) / sqrt(|F|^2 + s^2) of F = H + m with the target phasor T, minus lambda * energy, with
    lambda set so that the total energy is the budget. Coefficients where the host is weak or already
    points the right way are cheap; the floor s (HOST_FLOOR x the median host magnitude) keeps some
    margin in every coefficient against the noise an attack adds.
    """
    layout = _layout(key or watermark_key())
    t = _targets(generation_id, layout)
    target = (t[0::2] + 1j * t[1::2]) / math.sqrt(2)  # (K,) unit phasors, K ring coefficients
    host, gain = _host_view(frames, layout)
    floor = HOST_FLOOR * float(np.median(np.abs(host))) + 1e-9
    radii = np.concatenate([[0.0], np.geomspace(0.03, 4.0, 27)])  # candidate |m| / (|H| + floor)
    phases = np.exp(2j * np.pi * np.arange(16) / 16)
    m = (np.abs(host) + floor)[:, None] * (radii[:, None] * phases[None, :]).ravel()[None, :]  # (K, C)
    f = host[:, None] + m
    benefit = (np.conj(target)[:, None] * f).real / np.sqrt(np.abs(f) ** 2 + floor**2)
    cost = 2.0 * np.abs(m / gain[:, None]) ** 2 / TILE**2  # tile energy (sum of squares) of each candidate
    budget = rms**2 * TILE**2
    lo, hi = 1e-9, 1e9  # bisection on lambda (log scale) for the budget
    for _ in range(40):
        lam = math.sqrt(lo * hi)
        spent = np.take_along_axis(cost, np.argmax(benefit - lam * cost, 1)[:, None], 1).sum()
        lo, hi = (lam, hi) if spent > budget else (lo, lam)
    pick = np.argmax(benefit - hi * cost, 1)[:, None]
    spec = np.zeros((TILE, TILE // 2 + 1), complex)
    spec[layout.iy, layout.ix] = np.take_along_axis(m, pick, 1)[:, 0] / gain
    pattern = np.fft.irfft2(spec, s=(TILE, TILE))
    return pattern * rms / (np.sqrt((pattern**2).mean()) + 1e-12)


def _host_view(frames: np.ndarray, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """The host's ring coefficients as detect() sees them (scale 1, no shift), and the detector's gain
    for a tile-periodic change at each of them (high-pass transfer x mean local weight)."""
    r, energy = _highpass(_mean_luma(frames))
    weight = 1.0 / energy
    host = np.fft.rfft2(_fold(r * weight))[layout.iy, layout.ix]
    freq2 = np.fft.fftfreq(TILE)[layout.iy] ** 2 + np.fft.rfftfreq(TILE)[layout.ix] ** 2
    highpass = 1.0 - np.exp(-2.0 * math.pi**2 * HIGHPASS_SIGMA**2 * freq2)  # Gaussian blur's transfer
    return host, float(_fold(weight).mean()) * highpass


def embed(
    frames: np.ndarray, generation_id: str, strength: float = STRENGTH, key: str | None = None
) -> np.ndarray:
    """Watermarked copy of frames (F, H, W, 3) or (H, W, 3) uint8: the same luma pattern added to R, G and B.

    The pattern mixes the fixed one (1 - INFORMED_SHARE of the energy: it does not depend on what an attack
    does to the host) with the one shaped against this host (INFORMED_SHARE).
    """
    height, width = frames.shape[-3:-1]
    pattern = math.sqrt(1 - INFORMED_SHARE) * strength * tile_pattern(generation_id, key)
    if INFORMED_SHARE > 0:
        rms = math.sqrt(INFORMED_SHARE) * strength
        pattern = pattern + informed_pattern(frames, generation_id, rms, key)
    pattern = pattern * strength / np.sqrt((pattern**2).mean())  # the two overlap: back to RMS `strength`
    reps = (height // TILE + 1, width // TILE + 1)
    delta = np.rint(np.tile(pattern, reps)[:height, :width]).astype(np.int16)
    return np.clip(frames.astype(np.int16) + delta[..., None], 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    diff = a.astype(np.int16) - b.astype(np.int16)
    mse = float(np.mean(np.square(diff, dtype=np.float32), dtype=np.float64))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def add_visible_mark(frames: np.ndarray, text: str = "haneul") -> np.ndarray:
    """A small semi-transparent label in the bottom-right corner of every frame."""
    frames = frames.copy()
    height, width = frames.shape[-3:-1]
    scale = max(0.25, min(width, height) / 400)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    org = (max(0, width - tw - 3), max(th, height - base - 2))
    overlay = frames.reshape(-1, height, width, 3)
    for frame in overlay:
        marked = frame.copy()
        cv2.putText(
            marked, text, (org[0] + 1, org[1] + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
        )
        cv2.putText(marked, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        frame[:] = cv2.addWeighted(marked, 0.7, frame, 0.3, 0)
    return frames


# --- detection ----------------------------------------------------------------------------------------------


def _mean_luma(frames: np.ndarray) -> np.ndarray:
    """Mean luma over time of frames (F, H, W, 3) or (H, W, 3), a few frames at a time (bounded memory)."""
    rgb = frames.reshape(-1, *frames.shape[-3:])
    total = np.zeros(rgb.shape[1:3], np.float32)
    for start in range(0, len(rgb), 16):
        chunk = rgb[start : start + 16].astype(np.float32)
        total += (chunk[..., 0] * 0.299 + chunk[..., 1] * 0.587 + chunk[..., 2] * 0.114).sum(0)
    return total / len(rgb)


def _highpass(luma: np.ndarray, sigma: float = HIGHPASS_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """Luma high-passed, and its local energy (floored): what the detector divides by."""
    r = luma - cv2.GaussianBlur(luma, (0, 0), sigma)
    return r, cv2.GaussianBlur(r * r, (0, 0), sigma) + VAR_FLOOR


def _residual(luma: np.ndarray, sigma: float) -> np.ndarray:
    """Luma high-passed and divided by its local energy."""
    r, energy = _highpass(luma, sigma)
    return r / energy


def _fold(image: np.ndarray) -> np.ndarray:
    """Average of all TILE x TILE blocks (the last ones partial), position by position."""
    h, w = image.shape
    ph, pw = -h % TILE, -w % TILE
    padded = np.pad(image, ((0, ph), (0, pw)))
    count = np.pad(np.ones_like(image), ((0, ph), (0, pw)))
    shape = (padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE)
    total = padded.reshape(shape).sum((0, 2))
    n = count.reshape(shape).sum((0, 2))
    return np.where(n > 0, total / np.maximum(n, 1), 0.0)


def _sync_peaks(spectrum: np.ndarray, layout: _Layout, top: int) -> list[tuple[float, int, int]]:
    corr = np.fft.irfft2(spectrum * np.conj(layout.sync_spec), s=(TILE, TILE))
    z = (corr - corr.mean()) / (corr.std() + 1e-12)
    flat = np.argsort(z.ravel())[::-1][:top]
    return [(float(z.flat[i]), *divmod(int(i), TILE)) for i in flat]


def _dof_values(aligned: np.ndarray, layout: _Layout, dof: np.ndarray) -> np.ndarray:
    coef = aligned[layout.iy[dof // 2], layout.ix[dof // 2]]
    return np.where(dof % 2 == 0, coef.real, coef.imag) * layout.signs[dof]


def _band_weights(aligned: np.ndarray, layout: _Layout) -> np.ndarray:
    """Reliability of each radius band, estimated from the sync pattern (whose signs are known).

    Attacks do not hurt all frequencies alike: halving the size and H.264 wipe out the outer ring first,
    a textured picture drowns some bands. The sync values in a band have mean m (the surviving mark) and
    variance v (the noise); m / v is the log-likelihood weight of a value from that band (Gaussian channel),
    so the decoder listens to the bands where the mark survived instead of all of them equally.
    """
    sync = _dof_values(aligned, layout, layout.sync_dof)
    sync_band = layout.band[layout.sync_dof // 2]
    weights = np.zeros(BANDS)
    for b in range(BANDS):
        v = sync[sync_band == b]
        weights[b] = max(float(v.mean()), 0.0) / (float(v.var()) + 1e-6) if len(v) > 1 else 0.0
    return weights if weights.any() else np.ones(BANDS)


def _decode(spectrum: np.ndarray, layout: _Layout, dy: int, dx: int) -> str | None:
    fy = np.fft.fftfreq(TILE)[:, None] * TILE
    fx = np.fft.rfftfreq(TILE)[None, :] * TILE
    aligned = spectrum * np.exp(2j * np.pi * (fy * dy + fx * dx) / TILE)  # undo the shift
    values = _dof_values(aligned, layout, layout.data_dof)
    if BAND_WEIGHTING:
        values = values * _band_weights(aligned, layout)[layout.band[layout.data_dof // 2]]
    soft = np.bincount(layout.bit_of, weights=values, minlength=num_coded_bits())
    return read_payload(viterbi(soft))


def _confidence(score: float, payload_valid: bool, tests: int) -> float:
    """1 - (estimated chance that an unmarked video does this well), Gaussian tail times the tests made."""
    if payload_valid:
        false_alarm = tests * CANDIDATES * 2.0**-CRC_BITS
    else:
        false_alarm = tests * TILE * TILE * 0.5 * math.erfc(score / math.sqrt(2))
    return float(max(0.0, 1.0 - false_alarm))


def detect(frames: np.ndarray, key: str | None = None) -> WatermarkResult:
    """Look for the mark in frames (F, H, W, 3) or (H, W, 3) uint8, at any crop and resize factor."""
    layout = _layout(key or watermark_key())
    luma = _mean_luma(frames)
    if min(luma.shape) < 16:
        return WatermarkResult(False, None, False, 0.0, 0.0, 1.0, (0, 0))
    scales = [1.0, 0.5] + [s for s in SCALES if min(abs(s - 1.0), abs(s - 0.5)) > 0.005]
    peaks = []  # (score, scale, dy, dx, spectrum)
    for i, scale in enumerate(scales):
        # the high-pass and the local energy span as many of the mark's pixels as at embedding: on a
        # halved video that is half as many of its own (with a fixed width, 0.955 of 200 generated clips
        # were detected after halving and CRF 23, 0.990 with this; bench/watermark_eval.py)
        residual = _residual(luma, HIGHPASS_SIGMA * scale)
        image = residual if scale == 1.0 else cv2.resize(residual, None, fx=1 / scale, fy=1 / scale)
        spectrum = np.fft.rfft2(_fold(image))
        spectrum = np.where(layout.ring, spectrum / (np.abs(spectrum) + 1e-9), 0)  # phase only
        found = [(z, scale, dy, dx, spectrum) for z, dy, dx in _sync_peaks(spectrum, layout, CANDIDATES)]
        peaks += found
        if i < 2:  # the usual cases first (untouched, or half size): stop early when the payload reads
            for z, _, dy, dx, spec in found:
                prefix = _decode(spec, layout, dy, dx) if z >= Z_PAYLOAD else None
                if prefix:
                    return _result(True, prefix, z, scale, dy, dx, len(scales))
    peaks.sort(key=lambda p: -p[0])
    for z, scale, dy, dx, spec in peaks[:CANDIDATES]:
        prefix = _decode(spec, layout, dy, dx) if z >= Z_PAYLOAD else None
        if prefix:
            return _result(True, prefix, z, scale, dy, dx, len(scales))
    z, scale, dy, dx, _ = peaks[0]
    return _result(z >= Z_SYNC, None, z, scale, dy, dx, len(scales))


def _result(
    detected: bool, prefix: str | None, z: float, scale: float, dy: int, dx: int, tests: int
) -> WatermarkResult:
    return WatermarkResult(
        detected=bool(detected),
        generation_id_prefix=prefix,
        payload_valid=prefix is not None,
        score=round(float(z), 2),
        confidence=round(_confidence(z, prefix is not None, tests), 6) if detected else 0.0,
        scale=round(float(scale), 3),
        shift=(int(dy), int(dx)),
    )
