"""Visual-explanation methods: one pure batched function per method, and the registry :data:`METHODS` (name →
method) that the configuration (``gradcam.method``, via :func:`veiqa.config.load_schema`), the arm labels, ``veiqa
score --cam`` and docs/explanation-methods.md read.

Every function maps the target layer's activations ``a`` and the gradients ``g`` of the explained logit y^c with
respect to them (both N×K×h×w float tensors, from the one forward + backward pass of :func:`veiqa.gradcam.gradcam`)
to a raw map N×h×w. The caller applies the ReLU, the multi-layer average and the normalisation, as for Grad-CAM
(pytorch-grad-cam 1.5.7 also applies a ReLU to every method's map before scaling it).

Where pytorch-grad-cam 1.5.7 differs from the method's paper, the paper is followed (each difference is stated in
its function's docstring and in docs/explanation-methods.md):

* Grad-CAM++: no ε in α's denominator (the library adds 1e-6); α = 0 where the denominator is 0 (as the authors'
  code does).
* XGrad-CAM: no ε in the activation sum (the library adds 1e-7); a channel whose activations sum to 0 gets weight 0.
* Eigen-CAM: the sign of the first principal component is fixed (SVD leaves it arbitrary; the library keeps
  whatever LAPACK returns, and its ReLU then keeps either half of the map).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Method:
    """One explanation method: its function, whether it needs the backward pass, and how to cite it."""

    fn: Callable
    needs_grad: bool
    title: str
    reference: str
    library: str  # the pytorch-grad-cam 1.5.7 class it is tested against


def _sum_hw(t):
    return t.sum(dim=(2, 3), keepdim=True)


def gradcam(a, g):
    """Grad-CAM (Selvaraju et al., 2017): Σ_k α_k A^k, α_k = mean_ij ∂y^c/∂A^k_ij."""
    return (g.mean(dim=(2, 3), keepdim=True) * a).sum(1)


def gradcampp(a, g):
    """Grad-CAM++ (Chattopadhyay et al., 2018, eq. 19 and 10): Σ_k w_k A^k, w_k = Σ_ij α^k_ij ReLU(g^k_ij),
    α^k_ij = g² / (2 g² + Σ_ab A^k_ab g³) (g = ∂y^c/∂A^k_ij; the closed form's exp(S^c) factor is a positive
    constant per image and is left out, as the library and the authors' code do); α = 0 where the denominator is 0.
    The library adds ε = 1e-6 to the denominator and sets α = 0 where g = 0 (where the denominator is 0 too)."""
    g2 = g * g
    den = 2 * g2 + _sum_hw(a) * g2 * g
    alpha = g2 / den.where(den != 0, den.new_ones(()))
    alpha = alpha.where(den != 0, alpha.new_zeros(()))
    w = (alpha * g.clamp(min=0)).sum(dim=(2, 3), keepdim=True)
    return (w * a).sum(1)


def xgradcam(a, g):
    """XGrad-CAM (Fu et al., 2020, eq. 16): Σ_k w_k A^k, w_k = Σ_ij (A^k_ij / Σ_ab A^k_ab) ∂y^c/∂A^k_ij; weight 0
    for a channel whose activations sum to 0 (the library adds ε = 1e-7 to the sum instead)."""
    s = _sum_hw(a)
    w = _sum_hw(g * a) / s.where(s != 0, s.new_ones(()))
    w = w.where(s != 0, w.new_zeros(()))
    return (w * a).sum(1)


def layercam(a, g):
    """LayerCAM (Jiang et al., 2021, eq. 6-7): Σ_k ReLU(∂y^c/∂A^k_ij) A^k_ij, element-wise."""
    return (g.clamp(min=0) * a).sum(1)


def hirescam(a, g):
    """HiResCAM (Draelos & Carin, 2020): Σ_k ∂y^c/∂A^k ⊙ A^k, element-wise (Grad-CAM without the spatial mean)."""
    return (g * a).sum(1)


def eigencam(a, g=None):
    """Eigen-CAM (Muhammad & Yeasin, 2020): the activations (h·w points × K channels, centred over the points as the
    library does) projected on their first principal component, A·v₁ — no gradient, no class. SVD's sign is
    arbitrary; it is fixed so that the projection correlates positively with the channel sum Σ_k A^k (the map is
    high where the activations are), which the paper implies and the library leaves to LAPACK. Computed in float64."""
    n, k, h, w = a.shape
    x = a.double().reshape(n, k, h * w).transpose(1, 2)  # n × hw × K
    x = x - x.mean(dim=1, keepdim=True)
    # x·v₁ = u₁·σ₁ from the eigen-decomposition of the smaller Gram matrix (x xᵀ or xᵀ x): 10x faster than the SVD
    # of x for a 7×7×1280 layer, and the same to float64 round-off
    if h * w <= k:
        lam, u = torch.linalg.eigh(x @ x.transpose(1, 2))
        p = u[:, :, -1] * lam[:, -1:].clamp(min=0).sqrt()
    else:
        _, v = torch.linalg.eigh(x.transpose(1, 2) @ x)
        p = (x @ v[:, :, -1:])[:, :, 0]
    sign = (p * a.double().sum(1).reshape(n, h * w)).sum(1, keepdim=True)
    p = p * sign.sign().where(sign != 0, sign.new_ones(()))
    return p.reshape(n, h, w).to(a.dtype)


#: name → method, in the order the docs list them. ``gradcam`` (the paper's) is the default.
METHODS: dict[str, Method] = {
    "gradcam": Method(gradcam, True, "Grad-CAM", "Selvaraju et al., ICCV 2017, arXiv:1610.02391", "GradCAM"),
    "gradcampp": Method(gradcampp, True, "Grad-CAM++", "Chattopadhyay et al., WACV 2018, arXiv:1710.11063",
                        "GradCAMPlusPlus"),
    "xgradcam": Method(xgradcam, True, "XGrad-CAM", "Fu et al., BMVC 2020, arXiv:2008.02312", "XGradCAM"),
    "layercam": Method(layercam, True, "LayerCAM", "Jiang et al., IEEE TIP 30, 2021, doi:10.1109/TIP.2021.3089943",
                       "LayerCAM"),
    "hirescam": Method(hirescam, True, "HiResCAM", "Draelos & Carin, 2020, arXiv:2011.08891", "HiResCAM"),
    "eigencam": Method(eigencam, False, "Eigen-CAM", "Muhammad & Yeasin, IJCNN 2020, arXiv:2008.00299",
                       "EigenCAM"),
}
DEFAULT_METHOD = "gradcam"


def method(name: str) -> Method:
    """The registry entry of ``name``; a :class:`veiqa.io.VeiqaError` listing the known names otherwise."""
    if name not in METHODS:
        from ..io import VeiqaError

        raise VeiqaError(f"method: {name!r} is not one of {', '.join(METHODS)}")
    return METHODS[name]
