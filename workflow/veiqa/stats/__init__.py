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

Every name of the former single module ``veiqa.stats`` is still importable from here.
"""

from .logistic import (  # noqa: F401
    BETA_NAMES,
    LOGISTIC_METHODS,
    MIN_FIT_POINTS,
    LogisticFit,
    _failed,
    _logistic_jac,
    fit_logistic,
    fit_logistic_folds,
    is_monotone,
    linear_fallback,
    logistic5,
    max_slope,
)
from .logistic import linear_fallback as _linear_fallback  # noqa: F401
from .nested import nested_selection  # noqa: F401
from .protocols import (  # noqa: F401
    ARM_KEYS,
    FIT_STATS,
    GROUP_KEYS,
    MIN_CI_CONTENTS,
    MIN_CI_IMAGES,
    PROTOCOLS,
    REQUIRED_COLUMNS,
    STATS,
    CorrelationResult,
    assign_folds,
    common_rows,
    correlations,
    evaluate_group,
    save_results,
)
from .weighted import (  # noqa: F401
    _sign_chunks,
    _tie_groups,
    _wkendall,
    _wpearson,
    _wranks,
    blocked_stats,
    bootstrap_weights,
    percentile_ci,
    weighted_stats,
)
from .weighted import blocked_stats as _blocked_stats  # noqa: F401
from .weighted import percentile_ci as _percentile_ci  # noqa: F401
