"""Batched Grad-CAM (Selvaraju et al., 2017) of distorted images and their pseudo-reference images (PRIs).

* :mod:`.core`: the Grad-CAM pass (:func:`gradcam`), its settings (:data:`DEFAULT_CONFIG`, :func:`normalize_config`);
* :mod:`.methods`: the explanation methods (Grad-CAM, Grad-CAM++, XGrad-CAM, LayerCAM, HiResCAM, Eigen-CAM) and
  their registry :data:`METHODS`;
* :mod:`.precision`: float32 with TF32 off by default, bf16 autocast as an opt-in (:func:`grad_cam_precision`);
* :mod:`.inputs`: image → tensor (:func:`to_input`, :func:`pair_inputs`), the pair dataset and batching;
* :mod:`.shard`: the job runtime, one shard of pairs → one Parquet file (:func:`run_shard`, :data:`SHARD_COLUMNS`),
  through the batch step :func:`explain_batch` it shares with :func:`explain_images` (decoded pairs → the shard's
  frame, what ``veiqa score`` explains its image with).
"""

from .core import DEFAULT_CONFIG, gradcam, minmax, normalize_config, parse_target, resolve_layers
from .inputs import pair_inputs, to_input
from .methods import DEFAULT_METHOD, METHODS
from .precision import autocast, describe, grad_cam_precision
from .shard import SHARD_COLUMNS, explain_batch, explain_images, run_shard

__all__ = ["DEFAULT_CONFIG", "DEFAULT_METHOD", "METHODS", "SHARD_COLUMNS", "autocast", "describe", "explain_batch",
           "explain_images", "grad_cam_precision", "gradcam", "minmax", "normalize_config", "pair_inputs",
           "parse_target", "resolve_layers", "run_shard", "to_input"]
