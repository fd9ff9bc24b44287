"""The validation figures, now :mod:`estimator.figures.validation`; this name keeps old imports working."""

from estimator.figures.validation import BAND_COLOR, BAND_PROB, BAND_SEED, NCOLS, plot_claim_scores, plot_reference_comparison, plot_sbc_ecdf, plot_sbc_ranks

__all__ = ["BAND_PROB", "BAND_SEED", "BAND_COLOR", "NCOLS", "plot_sbc_ecdf", "plot_sbc_ranks", "plot_reference_comparison", "plot_claim_scores"]
