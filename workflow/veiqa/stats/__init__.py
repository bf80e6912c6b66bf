"""Aggregation statistics: logistic score mapping, PLCC/SROCC/KROCC/RMSE, evaluation protocols, bootstrap CIs,
out-of-fold arm selection.

Pure functions of pandas DataFrames / numpy arrays (no file I/O except :func:`save_results`), in modules that
are testable alone:

:mod:`veiqa.stats.logistic`
    The 5-parameter logistic of VQEG (2003) / Sheikh et al. (2006) and its fit: ``monotone`` (default; bounded,
    monotone in the direction of the rank correlation, transition no narrower than the data support) or
    ``nlinfit`` (the paper's MATLAB-style local fit). Config ``aggregate.logistic``.
:mod:`veiqa.stats.weighted`
    Weighted Pearson / Spearman / Kendall τ-b / RMSE over B × N weight matrices (bootstrap resamples, folds) and
    the bootstrap weights themselves.
:mod:`veiqa.stats.protocols`
    Direction conventions, folds over reference contents, the paper and content-separated protocols, the same-N
    rule across the measures of an arm, :func:`correlations` and :func:`save_results`.
:mod:`veiqa.stats.long_table`
    The long table the statistics read: its columns, its checks, the columns that describe an arm.
:mod:`veiqa.stats.nested`
    Choosing an arm without the winner's curse: nested selection over outer folds of contents.
:mod:`veiqa.stats.same_images`
    Which images every arm and measure of a table is correlated over, and why others left.
:mod:`veiqa.stats.chance`
    The chance level of the paper protocol's in-sample PLCC, by permutation of contents.
:mod:`veiqa.stats.paired`
    Paired tests between two arms on the same images.

The names below are the package's public API; anything else is imported from its module.
"""

from .logistic import BETA_NAMES, LOGISTIC_METHODS, LogisticFit, fit_logistic, is_monotone, logistic5, max_slope
from .long_table import GROUP_KEYS, REQUIRED_COLUMNS
from .nested import nested_selection
from .protocols import (FIT_STATS, PROTOCOLS, STATS, CorrelationResult, assign_folds, correlations, evaluate_group,
                        save_results)
from .weighted import bootstrap_weights, percentile_ci, weighted_stats

__all__ = [
    "BETA_NAMES", "FIT_STATS", "GROUP_KEYS", "LOGISTIC_METHODS", "PROTOCOLS", "REQUIRED_COLUMNS", "STATS",
    "CorrelationResult", "LogisticFit", "assign_folds", "bootstrap_weights", "correlations", "evaluate_group",
    "fit_logistic", "is_monotone", "logistic5", "max_slope", "nested_selection", "percentile_ci", "save_results",
    "weighted_stats",
]
