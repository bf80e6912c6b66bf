"""FSIM/FSIMc and VSI, computed by piq 0.8.0 (a port of the authors' FeatureSIM.m and VSI.m).

piq follows the published parameters (FSIM: 4 scales, 4 orientations, min wavelength 6, mult 2, σ_f 0.55,
T1 = 0.85, T2 = 160, T3 = T4 = 200, λ = 0.03, automatic downsampling round(min(H, W)/256); VSI: C1 = 1.27,
C2 = 386, C3 = 130, α = 0.4, β = 0.02, SDSP ω0 = 0.021, σ_F = 1.34, σ_D = 145, σ_C = 0.001) on images scaled to
[0, 255], so we call it rather than re-implement it.  The wrappers only add: per-pair ``data_range``
(inputs are rescaled to [0, 1] per pair), processing in chunks of the batch (bounded memory), grey inputs for VSI
replicated to 3 channels explicitly (what piq would do, without its warning), and NaN for any non-finite result.
"""

from __future__ import annotations

import warnings

import torch

from ._common import as_range, check_pair

#: pairs per piq call; FSIM holds 16 complex filter responses per image, so keep chunks modest.
CHUNK = 32


def _unit(x: torch.Tensor, y: torch.Tensor, data_range):
    L = as_range(data_range, x)
    return (x / L).clamp(0, 1), (y / L).clamp(0, 1)


def _chunked(fn, x, y, chunk):
    out = [fn(x[i : i + chunk], y[i : i + chunk]) for i in range(0, x.shape[0], chunk)]
    r = torch.cat(out) if out else x.new_zeros(0)
    return torch.where(torch.isfinite(r), r, torch.full_like(r, float("nan")))


def fsim(x: torch.Tensor, y: torch.Tensor, data_range=1.0, chromatic: bool | None = None, chunk: int = CHUNK) -> torch.Tensor:
    """FSIM (grey) or FSIMc (``chromatic``; default: True when C == 3) of Zhang et al. (2011), Tensor[N].

    Computed by ``piq.fsim`` with the paper's parameters (see module docstring); RGB → YIQ as FeatureSIM.m.
    Checked against piq directly (same code) and for its defining properties (1 for identical images) in the
    tests.  All-zero pairs: piq returns 1 (no phase congruency anywhere, 0/0 guarded); any non-finite → NaN.
    """
    import piq

    check_pair(x, y)
    if chromatic is None:
        chromatic = x.shape[1] == 3
    if chromatic and x.shape[1] != 3:
        raise ValueError("FSIMc needs RGB (3-channel) inputs")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"FSIM expects 1 or 3 channels, got {x.shape[1]}")
    if x.shape[1] == 3 and not chromatic:
        from ._common import luminance

        x, y = luminance(x), luminance(y)
    x, y = _unit(x, y, data_range)
    return _chunked(lambda a, b: piq.fsim(a, b, reduction="none", data_range=1.0, chromatic=chromatic), x, y, chunk)


def vsi(x: torch.Tensor, y: torch.Tensor, data_range=1.0, chunk: int = CHUNK) -> torch.Tensor:
    """Visual saliency-induced index (Zhang, Shen & Li 2014), Tensor[N]; higher is better, 1 = identical.

    Computed by ``piq.vsi`` with the paper's parameters (SDSP saliency, LMN colour space, Scharr gradients).
    VSI is defined for RGB; a grey input (maps) is replicated to three channels first, as piq does.
    """
    import piq

    check_pair(x, y)
    if x.shape[1] == 1:
        x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise ValueError(f"VSI expects 1 or 3 channels, got {x.shape[1]}")
    x, y = _unit(x, y, data_range)

    def one(a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return piq.vsi(a.contiguous(), b.contiguous(), reduction="none", data_range=1.0)

    return _chunked(one, x, y, chunk)
