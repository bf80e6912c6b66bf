"""Feature extractors by name, and running one over image sets (streamed running statistics, per-image features
when KID/IS need them). Split from :mod:`.extractors` so that neither it nor :mod:`.inception` imports the other's
importer (no import cycle): this module imports both."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..io import VeiqaError, read_image
from .distances import FIDResult, fid_from_stats
from .extractors import Extractor, backbone_extractor
from .inception import inception_fid_extractor, inception_tf_extractor
from .running import RunningStats

#: The FID networks by name (the config's ``setmetrics.extractor``; any other name is a backbone of the registry),
#: and the other spellings :func:`as_extractor` accepts for them.
FID_NETWORKS = {"inception": inception_tf_extractor, "inception_pytorch_fid": inception_fid_extractor}
_FID_ALIASES = {"fid_inception": "inception", "inception_tf": "inception", "fid": "inception",
                "pytorch_fid": "inception_pytorch_fid", "inception_v3_fid": "inception_pytorch_fid"}

def as_extractor(obj, name: str | None = None, **kw) -> Extractor:
    """Turn ``obj`` into an :class:`Extractor`: an Extractor (returned as is); a string (``"inception"`` -> the
    standard FID network, :func:`inception_tf_extractor`; ``"inception_pytorch_fid"`` -> pytorch-fid's port,
    :func:`inception_fid_extractor`; anything else -> :func:`backbone_extractor`; ``kw`` are
    passed on); or a callable (tensor in [0, 1] -> features), named by ``name``, its ``.name`` or its type name."""
    if isinstance(obj, Extractor):
        return obj
    if isinstance(obj, str):
        key = obj.lower().replace("-", "_")
        key = _FID_ALIASES.get(key, key)
        if key in FID_NETWORKS:
            return FID_NETWORKS[key](**kw)
        return backbone_extractor(obj, **kw)
    if callable(obj):
        nm = name or getattr(obj, "name", None) or type(obj).__name__
        return Extractor(name=str(nm), forward=obj, **kw)
    raise VeiqaError(f"as_extractor: cannot use {obj!r} as a feature extractor")


# ----------------------------------------------------------------------------------------------------------------
# Running extractors over image sets
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class SetFeatures:
    stats: RunningStats
    features: np.ndarray | None  # N x D (None when keep_features=False)
    probs: np.ndarray | None  # N x K softmax of the extractor's logits (None when it has none or keep=False)
    extractor: str


def _iter_batches(images: Iterable, ex: Extractor) -> Iterator:
    import torch

    buf = []
    for im in images:
        t = ex.preprocess(im)
        if buf and (t.shape != buf[0].shape or len(buf) >= ex.batch_size):
            yield torch.stack(buf)
            buf = []
        buf.append(t)
    if buf:
        yield torch.stack(buf)


def set_features(images: Iterable, extractor, keep_features: bool = True) -> SetFeatures:
    """Run ``extractor`` over ``images`` (paths, uint8 H x W x 3 arrays, or 3 x H x W float tensors in [0, 1]) in
    batches; the float64 :class:`RunningStats` are always accumulated, the per-image features/probabilities kept only
    with ``keep_features`` (KID and IS need them; FID alone does not, so sets larger than memory work)."""
    ex = as_extractor(extractor)
    stats = RunningStats()
    feats, probs = [], []
    imgs = (read_image(im) if isinstance(im, (str, os.PathLike)) else im for im in images)
    for batch in _iter_batches(imgs, ex):
        f, p = ex.run(batch)
        stats.update(f)
        if keep_features:
            feats.append(f)
            if p is not None:
                probs.append(p)
    return SetFeatures(
        stats=stats, features=np.concatenate(feats) if feats else None,
        probs=np.concatenate(probs) if probs and keep_features else None, extractor=ex.name,
    )


def fid_between_sets(images1: Iterable, images2: Iterable, extractor, **kw) -> FIDResult:
    """FID between two image sets (streamed, features not kept); ``kw`` go to :func:`frechet_distance`."""
    ex = as_extractor(extractor)
    s1 = set_features(images1, ex, keep_features=False)
    s2 = set_features(images2, ex, keep_features=False)
    return fid_from_stats(s1.stats, s2.stats, extractor=ex.name, **kw)
