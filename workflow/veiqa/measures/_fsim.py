"""FSIM / FSIMc (Zhang, Zhang, Mou & Zhang 2011), batched torch, following FeatureSIM.m and piq 0.8.0.

Parameters are those of the authors' FeatureSIM.m: automatic downsampling by F = max(1, round(min(H, W)/256))
(F×F average then every F-th sample, = ``avg_pool2d(x, F)``), RGB → YIQ, phase congruency (``phasecong2``) with
4 scales × 4 orientations of log-Gabor filters (minWaveLength 6, mult 2, sigmaOnf 0.55, dThetaOnSigma 1.2,
k 2.0, Butterworth low-pass cutoff 0.45 order 15), Scharr gradient magnitude (kernels /16, zero padding),
T1 = 0.85, T2 = 160, T3 = T4 = 200, λ = 0.03, on images scaled to [0, 255].

Where piq 0.8.0 (the implementation the project used before, and the one the tests compare against) departs
from FeatureSIM.m we follow piq, so that values are unchanged:

* the noise median is torch's lower median (MATLAB averages the two middle values for an even count);
* the PC ratio is (Σ energy + eps)/(Σ amplitude + eps) with eps = machine epsilon of the dtype (MATLAB:
  EnergyAll ./ AnAll, which is 0/0 on flat regions).  Hence all-zero or constant pairs give a finite FSIM
  (PC = 1 on flat regions) instead of NaN;
* piq's frequency grid for odd sides ((k − (n−1)/2)/(n−1)).

What is computed differently from piq, for speed only (same mathematics, float rounding differences;
agreement with piq ≤ 2e-6 in float32, ≤ 1e-9 in float64 in the tests): the frequency-domain filters and the
image-independent noise constants of ``phasecong2`` (Σ of squared and cross products of the spatial filters,
Σ filter² at the smallest scale) are built once per (H, W, device, dtype) in float64 and cached; x and y of a
chunk of pairs go through one ``fft2`` and one batched ``ifft2`` per orientation (its 4 scales at once); the
phase-deviation energy Σ_s [E·m_e + O·m_o − |E·m_o − O·m_e|] is evaluated as |ΣEO|²/(|ΣEO| + eps) −
Σ_s |Im(EO_s · conj(m))| with m = ΣEO/(|ΣEO| + eps); the noise median uses ``numpy.partition`` on CPU; the
Scharr filter is applied separably; the phase congruency of an image that occurs more than once in a block (a
reference shared by its distorted images, a PRI identical to its image) is computed once, one image per batched
pass on CPU; there the FFTs of sides that are not 2^a·3^b·5^c are scipy.fft's (pocketfft), faster than torch's.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from ._common import as_range, check_pair, luminance, per_distinct

SCALES, ORIENTATIONS = 4, 4
MIN_WAVELENGTH, MULT, SIGMA_ONF, D_THETA_ON_SIGMA, K_NOISE = 6, 2, 0.55, 1.2, 2.0
T1, T2, T3, T4, LAMBDA = 0.85, 160.0, 200.0, 200.0, 0.03

#: YIQ rows (FeatureSIM.m): Y = 0.299R + 0.587G + 0.114B, I = 0.596R − 0.274G − 0.322B, Q = 0.211R − 0.523G + 0.312B
#: (piq's four-digit constants).
_YIQ = ((0.299, 0.587, 0.114), (0.5959, -0.2746, -0.3213), (0.2115, -0.5227, 0.3112))


def _grid_1d(n: int) -> torch.Tensor:
    """piq's ``get_meshgrid`` axis: centred frequencies, /n for even n, /(n−1) for odd n (float64)."""
    if n % 2:
        return torch.arange(-(n - 1) / 2, n / 2, dtype=torch.float64) / (n - 1)
    return torch.arange(-n / 2, n / 2, dtype=torch.float64) / n


def _ifftshift(t: torch.Tensor) -> torch.Tensor:
    return torch.roll(t, (-(t.shape[-2] // 2), -(t.shape[-1] // 2)), (-2, -1))


@lru_cache(maxsize=8)
def _filters(H: int, W: int, device: torch.device, dtype: torch.dtype):
    """Log-Gabor filter bank (O·S × H × W, index o·S + s, zero frequency at [0, 0]) and the per-orientation
    noise-threshold factor A[o] such that phasecong2's threshold is T = A[o]·sqrt(median_o |EO_{s=0}|²).

    T = (τ√(π/2) + k·√(2 − π/2)·τ)/1.7 with τ = √(EstNoiseEnergy²/2), EstNoiseEnergy² = noisePower·(2 ΣAn² +
    4 ΣAiAj) (spatial-filter sums, image-independent), noisePower = (median/ln 2)/EM_n, EM_n = Σ filter²
    at the smallest scale.  Built in float64, returned in ``dtype`` (filters) and float64 → dtype (A).
    """
    gx = _grid_1d(H).reshape(-1, 1).expand(H, W)
    gy = _grid_1d(W).reshape(1, -1).expand(H, W)
    radius = torch.sqrt(gx**2 + gy**2)
    theta = torch.atan2(-gy, gx)
    lp = _ifftshift(1.0 / (1.0 + (radius / 0.45) ** (2 * 15)))
    radius = _ifftshift(radius).clone()
    theta = _ifftshift(theta)
    radius[0, 0] = 1.0
    sin_t, cos_t = torch.sin(theta), torch.cos(theta)
    log_gabor = []
    for s in range(SCALES):
        omega0 = 1.0 / (MIN_WAVELENGTH * MULT**s)
        g = torch.exp(-torch.log(radius / omega0) ** 2 / (2 * math.log(SIGMA_ONF) ** 2)) * lp
        g[0, 0] = 0.0
        log_gabor.append(g)
    theta_sigma = math.pi / (ORIENTATIONS * D_THETA_ON_SIGMA)
    spread = []
    for o in range(ORIENTATIONS):
        ang = o * math.pi / ORIENTATIONS
        ds = sin_t * math.cos(ang) - cos_t * math.sin(ang)
        dc = cos_t * math.cos(ang) + sin_t * math.sin(ang)
        spread.append(torch.exp(-torch.atan2(ds, dc).abs() ** 2 / (2 * theta_sigma**2)))
    bank = torch.stack([spread[o] * log_gabor[s] for o in range(ORIENTATIONS) for s in range(SCALES)])
    bank = bank.reshape(ORIENTATIONS, SCALES, H, W)
    # Sums over the spatial filters An = Re(ifft2(G))·√(HW), by Parseval in the frequency domain (no inverse FFTs):
    # Re(ifft2(G)) = ifft2(Gh) with Gh(k) = (G(k) + G(−k))/2 (G is real), so Σ_x An_i·An_j = Σ_k Gh_i(k)·Gh_j(k);
    # Σ_{i<j} An_i·An_j = ((Σ_i An_i)² − Σ_i An_i²)/2. Equal to the FFT route to 2e-16 (tests/test_measures_fsim_vsi.py).
    gh = 0.5 * (bank + torch.roll(torch.flip(bank, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1)))
    sum_an2 = (gh**2).sum(dim=(1, 2, 3))
    sum_ai_aj = 0.5 * ((gh.sum(dim=1) ** 2).sum(dim=(1, 2)) - sum_an2)
    em_n = (bank[:, 0] ** 2).sum(dim=(1, 2))
    c = (math.sqrt(math.pi / 2) + K_NOISE * math.sqrt(2 - math.pi / 2)) / 1.7
    a = c * torch.sqrt((2 * sum_an2 + 4 * sum_ai_aj) / (2 * math.log(2) * em_n))
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    # complex copy of the real bank: complex × complex multiplies avoid a slow type-promotion path
    return bank.to(device=device, dtype=cdtype), a.to(device=device, dtype=dtype)


def lower_median(v: torch.Tensor) -> torch.Tensor:
    """Lower median along the last axis of a 2-D tensor, exactly ``v.median(-1).values`` (torch's convention:
    the element of rank ⌊(M−1)/2⌋).  On CPU via ``numpy.partition`` (~3× faster than ``torch.median``)."""
    k = (v.shape[-1] - 1) // 2
    if v.device.type == "cpu":
        import numpy as np

        return torch.from_numpy(np.partition(v.detach().contiguous().numpy(), k, axis=-1)[:, k])
    return v.median(dim=-1).values


def _smooth(n: int) -> bool:
    """Whether n = 2^a·3^b·5^c (the sides torch's FFT handles fastest)."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def _by_scipy(t: torch.Tensor) -> bool:
    """CPU tensors with a side that is not 2^a·3^b·5^c go through scipy.fft (see :func:`_ifft2`)."""
    return t.device.type == "cpu" and not t.requires_grad and not (_smooth(t.shape[-1]) and _smooth(t.shape[-2]))


def _fft2(t: torch.Tensor) -> torch.Tensor:
    """2-D FFT over the last two axes (torch's, or scipy.fft's: :func:`_ifft2`)."""
    if not _by_scipy(t):
        return torch.fft.fft2(t)
    import scipy.fft

    return torch.from_numpy(scipy.fft.fft2(t.contiguous().numpy(), workers=torch.get_num_threads()))


def _ifft2(t: torch.Tensor) -> torch.Tensor:
    """2-D inverse FFT over the last two axes. On CPU, where a side is not 2^a·3^b·5^c, by ``scipy.fft``
    (pocketfft) with torch's thread count: the same transform, ~1.7× faster than ``torch.fft`` (MKL) at such sides
    (the demo's 341×512 and 300×451: 1.4 vs 2.5 ms per complex64 transform) but slower at 256² (0.36 vs 0.32 ms);
    the precision (complex64 or complex128) is kept."""
    if not _by_scipy(t):
        return torch.fft.ifft2(t)
    import scipy.fft

    return torch.from_numpy(scipy.fft.ifft2(t.contiguous().numpy(), workers=torch.get_num_threads(),
                                            overwrite_x=True))


#: Images per batched phase-congruency pass on CPU: one image's 4 complex scale responses (6.4 MB at 224² in
#: complex128) stay in cache between the dozen elementwise passes; 8 images at once ran 1.3-1.6x slower per image
#: (scripts/bench_measures.py). On GPU the whole chunk goes at once.
PC_IMAGES_CPU = 1


def phase_congruency(x: torch.Tensor) -> torch.Tensor:
    """Phase congruency (phasecong2 of FeatureSIM.m, piq's variant) of N×1×H×W grey images in [0, 255],
    N×1×H×W.  Images go through batched FFTs, one orientation (4 scales) at a time, :data:`PC_IMAGES_CPU` images
    per pass on CPU (each image's values do not depend on the others); use :func:`fsim`'s chunking for large N."""
    step = PC_IMAGES_CPU if x.device.type == "cpu" else x.shape[0]
    if x.shape[0] > step:
        return torch.cat([_phase_congruency(x[i:i + step]) for i in range(0, x.shape[0], step)])
    return _phase_congruency(x)


def _phase_congruency(x: torch.Tensor) -> torch.Tensor:
    N, _, H, W = x.shape
    eps = torch.finfo(x.dtype).eps
    bank, a = _filters(H, W, x.device, x.dtype)
    spec = _fft2(x[:, 0]).unsqueeze(1)  # N×1×H×W
    an_all = x.new_zeros(N, H, W)
    energy_all = x.new_zeros(N, H, W)
    for o in range(ORIENTATIONS):
        eo = _ifft2(spec * bank[o])  # N×S×H×W: even (real) and odd (imag) filter responses
        sq = torch.view_as_real(eo).square()
        amp_s = sq[..., 0] + sq[..., 1]  # |EO|² per scale
        # noise threshold from the (lower) median of |EO|² at the smallest scale
        thr = lower_median(amp_s[:, 0].reshape(N, H * W)).sqrt() * a[o]
        an_all += amp_s.sqrt_().sum(dim=1)
        sum_eo = eo.sum(dim=1)  # N×H×W
        amp = sum_eo.abs()
        # weighted mean phase direction m = ΣEO/(|ΣEO| + eps); Σ_s (E·m_e + O·m_o) = |ΣEO|²/(|ΣEO| + eps)
        m = torch.view_as_real(sum_eo) / (amp + eps).unsqueeze(-1)
        m[..., 1].neg_()  # conj(m)
        odd = torch.view_as_real(eo * torch.view_as_complex(m).unsqueeze(1)).abs_().sum(dim=1)[..., 1]
        energy = amp * amp / (amp + eps) - odd
        energy_all += (energy - thr.to(x.device).reshape(N, 1, 1)).clamp_min_(0)
    return ((energy_all + eps) / (an_all + eps)).unsqueeze(1)


def _scharr_magnitude(x: torch.Tensor) -> torch.Tensor:
    """√(Gx² + Gy²) with piq's Scharr kernels [−3 0 3; −10 0 10; −3 0 3]/16 and its transpose, zero padding
    (``conv2d(x, k, padding=1)``), computed separably: (3, 10, 3)/16 smoothing ⊗ central difference."""
    p = F.pad(x, (1, 1, 1, 1))
    v = 3.0 * (p[..., :-2, :] + p[..., 2:, :]) + 10.0 * p[..., 1:-1, :]  # smoothed along H: H × (W+2)
    h = 3.0 * (p[..., :, :-2] + p[..., :, 2:]) + 10.0 * p[..., :, 1:-1]  # smoothed along W: (H+2) × W
    gx = v[..., 2:] - v[..., :-2]
    gy = h[..., 2:, :] - h[..., :-2, :]
    return torch.sqrt(gx * gx + gy * gy) / 16.0


def _sim(a: torch.Tensor, b: torch.Tensor, c: float) -> torch.Tensor:
    return (2.0 * a * b + c) / (a * a + b * b + c)


def _fsim_block(x: torch.Tensor, y: torch.Tensor, chromatic: bool) -> torch.Tensor:
    """FSIM of a block of pairs already scaled to [0, 255]."""
    f = max(1, round(min(x.shape[-2:]) / 256))
    if f > 1:
        x, y = F.avg_pool2d(x, f), F.avg_pool2d(y, f)
    n = x.shape[0]
    if x.shape[1] == 3:
        m = torch.tensor(_YIQ, dtype=x.dtype, device=x.device)
        x = torch.einsum("kc,nchw->nkhw", m, x)
        y = torch.einsum("kc,nchw->nkhw", m, y)
    lum = torch.cat([x[:, :1], y[:, :1]])  # x and y through one batched FFT
    pc = per_distinct(phase_congruency, lum)  # a reference shared by several pairs: its PC once
    gm = _scharr_magnitude(lum)
    pc_x, pc_y, gm_x, gm_y = pc[:n], pc[n:], gm[:n], gm[n:]
    pc_max = torch.maximum(pc_x, pc_y)
    score = _sim(pc_x, pc_y, T1) * _sim(gm_x, gm_y, T2) * pc_max
    if chromatic:
        s_iq = _sim(x[:, 1:2], y[:, 1:2], T3) * _sim(x[:, 2:3], y[:, 2:3], T4)
        score = score * s_iq.abs() ** LAMBDA
    return score.sum(dim=(1, 2, 3)) / pc_max.sum(dim=(1, 2, 3))


def default_chunk(device: torch.device) -> int:
    """Pairs per block: small on CPU (cache-friendly; ~10 MB of complex responses per 224×224 pair and
    orientation), larger on GPU."""
    return 64 if torch.device(device).type == "cuda" else 4


def fsim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range=1.0,
    chromatic: bool | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """FSIM (grey) or FSIMc (``chromatic``; default: True when C == 3) of Zhang et al. (2011), Tensor[N].

    Higher is better; 1 for identical images.  ``data_range`` (float or Tensor[N]): inputs are divided by it,
    clipped to [0, 1] and scaled to [0, 255] (FeatureSIM.m's range).  RGB with ``chromatic=False``: FSIM of the
    luminance 0.299R + 0.587G + 0.114B (= YIQ's Y).  Torch implementation of FeatureSIM.m with piq 0.8.0's
    conventions (see the module docstring); checked against ``piq.fsim`` in the tests.  Computed in the input
    dtype (float32 maps agree with piq to ~1e-6).  All-zero or constant pairs give a finite value (piq's
    epsilon guard); any non-finite result is returned as NaN.  ``chunk``: pairs per batched FFT (memory
    bound; default 4 on CPU, 64 on CUDA).
    """
    check_pair(x, y)
    if chromatic is None:
        chromatic = x.shape[1] == 3
    if chromatic and x.shape[1] != 3:
        raise ValueError("FSIMc needs RGB (3-channel) inputs")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"FSIM expects 1 or 3 channels, got {x.shape[1]}")
    if x.shape[1] == 3 and not chromatic:
        x, y = luminance(x), luminance(y)
    return blockwise_255(lambda a, b: _fsim_block(a, b, chromatic), x, y, data_range, chunk or default_chunk(x.device))


def blockwise_255(block, x: torch.Tensor, y: torch.Tensor, data_range, chunk: int) -> torch.Tensor:
    """Scale a pair batch to [0, 255] (divide by ``data_range``, clip), run ``block`` on ``chunk`` pairs at a time
    without gradients, and return Tensor[N] with non-finite results as NaN (shared by FSIM and VSI)."""
    if x.dtype not in (torch.float32, torch.float64):  # half precision: no FFT support / too coarse
        x, y = x.float(), y.float()
    L = as_range(data_range, x)
    if L.numel() == 1 and float(L) == 255.0:  # already on the scale: clip only (saves two passes per image)
        x, y = x.clamp(0, 255), y.clamp(0, 255)
    else:
        x = (x / L).clamp(0, 1) * 255.0
        y = (y / L).clamp(0, 1) * 255.0
    with torch.no_grad():
        out = [block(x[i : i + chunk], y[i : i + chunk]) for i in range(0, x.shape[0], chunk)]
    r = torch.cat(out) if out else x.new_zeros(0)
    return torch.where(torch.isfinite(r), r, torch.full_like(r, float("nan")))
