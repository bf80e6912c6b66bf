"""The registry of full-reference measures: each name, its direction and its input requirements, without torch.

:mod:`veiqa.measures` computes them (and re-exports :data:`MEASURES`); jobs that only need a measure's direction
(``collect``, the FR-ceiling orientation) read it here and never import torch (a second of start-up per job).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Smallest side for MS-SSIM's five scales: an 11×11 window at the coarsest one, (11 − 1)·2⁴ + 1
#: (= :func:`veiqa.measures.ms_ssim_min_size`, a test keeps the two equal).
MS_SSIM_MIN_SIZE = 161


@dataclass(frozen=True)
class MeasureSpec:
    """What a measure is: its name, whether higher values mean more similar, and its input requirements.

    ``min_size`` is the smallest image side (before any automatic downsampling) for which the measure is
    defined; smaller pairs give NaN with status ``"too_small"``.  ``colour`` says how RGB input is used
    ("grey": by ``compute``'s ``grey`` conversion, MATLAB's rgb2gray in image mode).

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
    ideal: float | None = None

    @property
    def stat_higher_is_better(self) -> bool:
        """Whether higher values of :meth:`stat_value` mean more similar inputs (False for a deviation)."""
        return self.higher_is_better if self.ideal is None else False

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
        MeasureSpec("psnr", True, 1, "all channels", "peak signal-to-noise ratio (dB)"),
        MeasureSpec("ssim", True, 11, "grey", "structural similarity (Wang et al. 2004)"),
        MeasureSpec("ssim_l", True, 11, "grey", "SSIM luminance term l, mean"),
        MeasureSpec("ssim_c", True, 11, "grey", "SSIM contrast term c, mean"),
        MeasureSpec("ssim_s", True, 11, "grey", "SSIM structure term s, mean"),
        MeasureSpec("ssim_nodownsample", True, 11, "grey",
                    "SSIM without automatic downsampling (ssim_index.m, scikit-image)"),
        MeasureSpec("ms_ssim", True, MS_SSIM_MIN_SIZE, "grey",
                    "multi-scale SSIM (5 scales), msssim.m's default method='product'"),
        MeasureSpec("ms_ssim_wtd", True, MS_SSIM_MIN_SIZE, "grey",
                    "multi-scale SSIM, msssim.m's method='wtd_sum' (weighted sum of the scale terms)"),
        MeasureSpec("gmsd", False, 1, "grey", "gradient magnitude similarity deviation"),
        MeasureSpec("ncc", True, 1, "all channels",
                    "normalised cross-correlation NK = sum(xy)/sum(x^2); ideal 1, deviates both ways: the statistics "
                    "use |1 - NK|, lower = more similar", ideal=1.0),
        MeasureSpec("pcc", True, 1, "all channels", "Pearson correlation (zero-mean normalised cross-correlation)"),
        MeasureSpec("fsim", True, 1, "FSIMc (YIQ) for RGB", "feature similarity index"),
        MeasureSpec("nae", False, 1, "all channels", "normalised absolute error"),
        MeasureSpec("vsi", True, 1, "RGB (grey replicated)", "visual saliency-induced index"),
    ]
}
