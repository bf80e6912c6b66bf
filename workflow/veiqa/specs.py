"""The registry of full-reference measures, the one home of each measure's facts, without torch.

:data:`MEASURES` maps a name to its :class:`MeasureSpec`: its direction, its input requirements, its description and
where its function is (``"module:function"`` under :mod:`veiqa.measures`, imported only when a value is computed).
Everything else reads it: :func:`veiqa.measures.compute` dispatches through it, the configuration's ``measures`` and
``aggregate.table_measure`` allow exactly its names (:func:`veiqa.config.load_schema` fills them in),
``veiqa measure --measure`` offers them, and docs/configuration.md's measures table is generated from it
(``scripts/gen_config_docs.py``). Jobs that only need a direction (``collect``, the FR-ceiling orientation) read it
here and never import torch (a second of start-up per job).

Adding a measure: write its function (``fn(x, y, data_range) -> Tensor[N]`` on two N×C×H×W tensors, pure and
batched, in a module of :mod:`veiqa.measures`) and one :class:`MeasureSpec` line below naming it; then its test.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

#: Smallest side for MS-SSIM's five scales: an 11×11 window at the coarsest one, (11 − 1)·2⁴ + 1
#: (= :func:`veiqa.measures.ms_ssim_min_size`, a test keeps the two equal).
MS_SSIM_MIN_SIZE = 161


@dataclass(frozen=True)
class MeasureSpec:
    """What a measure is: its name, whether higher values mean more similar, its input requirements, its function.

    ``min_size`` is the smallest image side (before any automatic downsampling) for which the measure is
    defined; smaller pairs give NaN with status ``"too_small"``.  ``colour`` says how RGB input is used
    ("grey": by ``compute``'s ``grey`` conversion, MATLAB's rgb2gray in image mode).

    ``fn`` is the function, ``"module:function"`` under :mod:`veiqa.measures` (imported when first computed, so this
    registry stays torch-free) or a callable; it is called as ``fn(x, y, data_range)`` and returns a Tensor[N].
    ``grey``: ``compute`` passes the pair after its grey conversion (one conversion, in float64, shared by every such
    measure) instead of the pair as given.  ``joint``: ``fn`` computes several measures in one pass and is called
    once for all the requested measures that name it, as ``fn(x, y, data_range, names)`` returning
    ``{name: Tensor[N]}`` (the SSIM family shares its pyramid).  ``reference``: the implementation it follows and
    what it is checked against (docs/measures.md has the measured agreement).

    ``ideal``: for a measure whose value for identical inputs lies *inside* its range, so that it deviates from it
    both ways (NCC's NK = Σxy/Σx² is 1 for identical inputs and can be above or below), the statistics do not use
    the value but its deviation |value − ideal| (:meth:`stat_value`), which is lower for more similar inputs:
    :attr:`stat_higher_is_better` is then False. ``higher_is_better`` describes the raw value (for NCC: towards
    the ideal from below). This spec is the one home of the direction the statistics use.
    """

    name: str
    higher_is_better: bool
    min_size: int
    colour: str
    description: str
    fn: str | Callable = ""
    grey: bool = False
    joint: bool = False
    reference: str = ""
    ideal: float | None = None

    def function(self) -> Callable:
        """The measure's function (imported on first use)."""
        if callable(self.fn):
            return self.fn
        module, _, attr = self.fn.partition(":")
        if not module or not attr:
            raise ValueError(f"measure {self.name!r}: fn must be 'module:function' under veiqa.measures or a "
                             f"callable, got {self.fn!r}")
        return getattr(importlib.import_module(f"veiqa.measures.{module}"), attr)

    @property
    def stat_higher_is_better(self) -> bool:
        """Whether higher values of :meth:`stat_value` mean more similar inputs (False for a deviation)."""
        return self.higher_is_better if self.ideal is None else False

    def quality_higher_is_better(self, reference: str) -> bool:
        """Whether higher :meth:`stat_value` means better quality of the distorted image, when the measure compares
        it with ``reference``: ``"pri"`` (its pseudo-reference: under the PRI paradigm an image that changes little
        when degraded once more was already degraded, so quality rises with *dissimilarity*) or ``"pristine"`` (its
        true reference, the FR ceiling: more similar = better). The one home of the direction every measure shard
        writes in its ``measure_higher_is_better`` column."""
        if reference not in ("pri", "pristine"):
            raise ValueError(f"reference must be 'pri' or 'pristine', got {reference!r}")
        return self.stat_higher_is_better if reference == "pristine" else not self.stat_higher_is_better

    def stat_value(self, values):
        """The values the statistics use: the measure itself, or |value − ideal| (NaN stays NaN)."""
        import numpy as np

        v = np.asarray(values, float)
        return v if self.ideal is None else np.abs(v - self.ideal)

    @property
    def stat_note(self) -> str:
        """How tables label the statistics of this measure ("" when they use the value itself)."""
        if self.ideal is None:
            return ""
        return (f"statistics on |{self.ideal:g} - value| (deviation from the ideal {self.ideal:g} of identical "
                "inputs, either way; lower = more similar)")


MEASURES: dict[str, MeasureSpec] = {
    s.name: s
    for s in [
        MeasureSpec("psnr", True, 1, "all channels", "peak signal-to-noise ratio (dB)",
                    fn="_simple:psnr", reference="hand-written; checked v. scikit-image and Octave (MATLAB psnr)"),
        MeasureSpec("ssim", True, 11, "grey", "structural similarity (Wang et al. 2004)",
                    fn="_ssim:ssim_family", grey=True, joint=True,
                    reference="Wang's ssim.m (automatic downsampling); checked v. scikit-image and Octave"),
        MeasureSpec("ssim_l", True, 11, "grey", "SSIM luminance term l, mean",
                    fn="_ssim:ssim_family", grey=True, joint=True, reference="term map of ssim.m, mean"),
        MeasureSpec("ssim_c", True, 11, "grey", "SSIM contrast term c, mean",
                    fn="_ssim:ssim_family", grey=True, joint=True, reference="term map of ssim.m, mean"),
        MeasureSpec("ssim_s", True, 11, "grey", "SSIM structure term s, mean",
                    fn="_ssim:ssim_family", grey=True, joint=True, reference="term map of ssim.m, mean"),
        MeasureSpec("ssim_nodownsample", True, 11, "grey",
                    "SSIM without automatic downsampling (ssim_index.m, scikit-image)",
                    fn="_ssim:ssim_family", grey=True, joint=True,
                    reference="Wang's ssim_index.m; checked v. scikit-image and Octave"),
        MeasureSpec("ms_ssim", True, MS_SSIM_MIN_SIZE, "grey",
                    "multi-scale SSIM (5 scales), msssim.m's default method='product'",
                    fn="_ssim:ssim_family", grey=True, joint=True,
                    reference="Wang's msssim.m; checked v. piq and Octave"),
        MeasureSpec("ms_ssim_wtd", True, MS_SSIM_MIN_SIZE, "grey",
                    "multi-scale SSIM, msssim.m's method='wtd_sum' (weighted sum of the scale terms)",
                    fn="_ssim:ssim_family", grey=True, joint=True, reference="Wang's msssim.m; checked v. Octave"),
        MeasureSpec("gmsd", False, 1, "grey", "gradient magnitude similarity deviation",
                    fn="_gradient:gmsd", grey=True, reference="Xue et al.'s GMSD.m; checked v. piq and Octave"),
        MeasureSpec("ncc", True, 1, "all channels",
                    "normalised cross-correlation NK = sum(xy)/sum(x^2); ideal 1, deviates both ways: the statistics "
                    "use |1 - NK|, lower = more similar", ideal=1.0,
                    fn="_simple:ncc", reference="Eskicioglu & Fisher 1995; hand-written, checked by hand, v. Octave"),
        MeasureSpec("pcc", True, 1, "all channels", "Pearson correlation (zero-mean normalised cross-correlation)",
                    fn="_simple:pcc", reference="hand-written; = numpy.corrcoef"),
        MeasureSpec("fsim", True, 1, "FSIMc (YIQ) for RGB", "feature similarity index",
                    fn="_fsim:fsim", reference="Zhang et al.'s FeatureSIM.m; checked v. piq and Octave"),
        MeasureSpec("nae", False, 1, "all channels", "normalised absolute error",
                    fn="_simple:nae", reference="Eskicioglu & Fisher 1995; hand-written, checked v. Octave"),
        MeasureSpec("vsi", True, 1, "RGB (grey replicated)", "visual saliency-induced index",
                    fn="_vsi:vsi", reference="Zhang et al.'s VSI.m; checked v. piq and Octave"),
    ]
}


def register(spec: MeasureSpec) -> MeasureSpec:
    """Add ``spec`` to :data:`MEASURES` (a measure defined outside this file, e.g. a test's); a name already
    registered is a ``ValueError``. Register before the configuration is loaded: the schema's enums are read
    from the registry when :func:`veiqa.config.load_schema` runs."""
    if spec.name in MEASURES:
        raise ValueError(f"measure {spec.name!r} is already registered")
    if not callable(spec.fn) and ":" not in spec.fn:
        raise ValueError(f"measure {spec.name!r}: fn must be 'module:function' or a callable, got {spec.fn!r}")
    MEASURES[spec.name] = spec
    return spec


def unregister(name: str) -> MeasureSpec:
    """Remove ``name`` from :data:`MEASURES` and return its spec."""
    return MEASURES.pop(name)
