"""One image scored as the workflow scores it, from decoded pixels, with the workflow's own functions.

Each step is the one its workflow job runs, so a change to how an image is degraded, explained or compared reaches
``veiqa score`` and the workflow alike:

* the PRI: :func:`veiqa.pri.make_pri` (the PRI job's, through :func:`veiqa.pri.write_pri_shard`), its file read back
  with :func:`veiqa.io.read_image` as the Grad-CAM job reads it (:func:`pri_image`);
* the two maps: :func:`veiqa.gradcam.explain_images`, the Grad-CAM job's inputs, batch step and rows
  (:func:`veiqa.gradcam.explain_batch`), giving the image's row of a Grad-CAM shard;
* the measures: :func:`veiqa.pairs.vei_table` on that row, the measures job's table.

``veiqa score`` (:mod:`veiqa.score_cli`) loads the backbone once and calls :func:`score_image` per image.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .backbones import Backbone


def pri_image(img: np.ndarray, distortion: str, params: Mapping[str, Any], image_id: str) -> np.ndarray:
    """The PRI of ``img`` (uint8 H×W×3) as the workflow makes and reads it: :func:`veiqa.pri.make_pri`'s file (bytes
    and extension, as the PRI job writes it) decoded by :func:`veiqa.io.read_image` (as the Grad-CAM job decodes it).
    ``image_id`` seeds the white-noise PRI, as the manifest's id does in the workflow."""
    from .io import read_image
    from .pri import make_pri

    data, ext = make_pri(img, distortion, dict(params), image_id)
    with tempfile.TemporaryDirectory(prefix="veiqa-pri-") as d:
        path = Path(d) / f"pri{ext}"
        path.write_bytes(data)
        return read_image(path)


@dataclass(frozen=True)
class Scored:
    """One scored image: its PRI's pixels, whether they equal the image's (as the PRI index's ``identical``), its row
    of a Grad-CAM shard (:data:`veiqa.gradcam.SHARD_COLUMNS`) and its rows of the measures table
    (:data:`veiqa.pairs.COLUMNS`, indexed by measure, in the order asked)."""

    pri: np.ndarray
    pri_identical: bool
    vei: pd.Series
    measures: pd.DataFrame

    def maps(self) -> tuple[np.ndarray, np.ndarray]:
        """The distorted image's and the PRI's heat maps, float32 map_h×map_w."""
        h, w = int(self.vei["map_h"]), int(self.vei["map_w"])
        return (np.asarray(self.vei["cam_dist"], np.float32).reshape(h, w),
                np.asarray(self.vei["cam_pri"], np.float32).reshape(h, w))


def score_image(backbone: Backbone, img: np.ndarray, image_id: str, distortion: str, pri_params: Mapping[str, Any],
                cam: Mapping[str, Any], measures: Sequence[str], size: int, arm: str,
                log: logging.Logger | None = None) -> Scored:
    """PRI, both heat maps and the measures of one image (uint8 H×W×3) with a loaded ``backbone``.

    ``cam``: the arm's engine config (:func:`veiqa.gradcam.normalize_config`'s keys, as a value of
    :func:`veiqa.config.cam_arms`); ``size`` and the config's ``normalize``: the comparison's (``compare.size``);
    ``arm``: the label the measures table carries. ``log`` gets the jobs' progress lines (default their loggers).
    """
    from .gradcam import explain_images, normalize_config
    from .pairs import vei_table

    cam = normalize_config(cam)
    pri = pri_image(img, distortion, pri_params, image_id)
    vei = explain_images(backbone, [image_id], [img], [pri], cam, log=log)
    identical = bool(np.array_equal(img, pri))
    table = vei_table(vei, list(measures), size, cam["normalize"], arm, {image_id: identical}, log=log)
    return Scored(pri, identical, vei.iloc[0], table.set_index("measure"))
