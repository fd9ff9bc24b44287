r"""Posterior -> tidy tables: headline quantities, containers per scope, per-claim checks.

Quantiles are equal-tailed (5%, 50%, 95%: a 90% interval), taken over all
chains and draws by :func:`estimator.stats.quantile`. The per-claim check is
:func:`estimator.scoring.score_claims` applied to the fitted claims: each
source's estimate has the exact predictive distribution
:math:`F(x) = \frac1S \sum_s \Phi((\log x - \mu_s)/\sigma_s)`
(:mod:`estimator.model` gives :math:`\mu, \sigma`), and a claim is surprising
when its ``p_figure`` is below :data:`estimator.stats.SURPRISE_P`. Each comes with its Monte Carlo standard error
(ArviZ ``mcse`` of the median or quantile), and :func:`round_to_mcse` keeps
only the digits that error supports.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import xarray as xr

from estimator import names as N
from estimator.errors import did_you_mean
from estimator.scoring import score_claims
from estimator.stats import QUANTILES, SURPRISE_P, quantile

__all__ = [
    "headline_table",
    "scope_table",
    "claim_check_table",
    "prob_shells_above",
    "summary_dict",
    "draws_table",
    "round_to_mcse",
]

# Column names of the three quantiles and of their Monte Carlo standard errors.
_QUANTILE_COLUMNS = ("q05", "median", "q95")


def round_to_mcse(value: float, mcse: float) -> float:
    """Round ``value`` to the precision its Monte Carlo standard error supports.

    The rule: round to the largest power of ten not above twice the MCSE
    (about the half-width of a 95% Monte Carlo interval), so every digit kept
    is one a rerun with another seed would likely repeat. An MCSE of 50 rounds
    10,795 to 10,800; an MCSE of 0.03 rounds 0.4137 to 0.41. A missing or
    zero MCSE leaves the value as it is.
    """
    if not (np.isfinite(value) and np.isfinite(mcse) and mcse > 0):
        return value
    exponent = int(np.floor(np.log10(2 * mcse)))
    return float(round(float(value), -exponent))


def _mcse(x, prob: float):
    """ArviZ's MCSE of one quantile of draws with dims (chain, draw, ...)."""
    import arviz_stats as azs  # noqa: PLC0415 - heavy (seconds); only for diagnostics and PSIS

    if prob == 0.5:
        return azs.mcse(x, method="median")
    return azs.mcse(x, method="quantile", prob=prob)


def _draws(result, var):
    return result.posterior[var].stack(sample=("chain", "draw"))


def headline_table(result) -> pd.DataFrame:
    """Median and 90% interval of each headline quantity as of the as-of date.

    Columns ``median``, ``q05``, ``q95``, ``mean`` and the Monte Carlo standard
    error of each quantile (``mcse_median``, ``mcse_q05``, ``mcse_q95``).
    """
    rows = []
    for var in N.HEADLINE:
        x = _draws(result, var)
        q = quantile(x.values)
        row = {
            "quantity": var,
            "label": N.LABELS[var],
            "median": q[1],
            "q05": q[0],
            "q95": q[2],
            "mean": float(x.mean()),
        }
        for col, prob in zip(_QUANTILE_COLUMNS, QUANTILES):
            row[f"mcse_{col}"] = float(_mcse(result.posterior[var], prob))
        rows.append(row)
    return pd.DataFrame(rows).set_index("quantity")


def draws_table(result, var_names=None) -> pd.DataFrame:
    """Posterior draws as a long (tidy) table: one row per draw and coordinate.

    Parameters
    ----------
    result : FitResult
    var_names : str or list of str, optional
        Posterior variables (default: the headline quantities).

    Returns
    -------
    DataFrame
        Columns ``variable``, ``chain``, ``draw``, one column per other
        dimension of the variables asked for (empty where a variable lacks
        it), and ``value``.
    """
    post = result.posterior
    names = list(N.HEADLINE) if var_names is None else [var_names] if isinstance(var_names, str) else list(var_names)
    unknown = [v for v in names if v not in post.data_vars]
    if unknown:
        raise KeyError("; ".join(f"no posterior variable '{v}'{did_you_mean(v, post.data_vars)}" for v in unknown))
    frames = []
    for var in names:
        df = post[var].to_dataframe(name="value").reset_index()
        df.insert(0, "variable", var)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    # concat appends a dimension first met in a later variable after "value": keep "value" last.
    return out[[c for c in out.columns if c != "value"] + ["value"]]


def scope_table(result) -> pd.DataFrame:
    """Containers as each source family would count them (total x family bias)."""
    x = _draws(result, N.CONTAINERS_AS_REPORTED)
    bias = _draws(result, N.FAMILY_BIAS)
    errors = {
        col: _mcse(result.posterior[N.CONTAINERS_AS_REPORTED], prob) for col, prob in zip(_QUANTILE_COLUMNS, QUANTILES)
    }
    rows = []
    for fam in x[N.FAMILY].values:
        q05, median, q95 = quantile(x.sel({N.FAMILY: fam}).values)
        rows.append(
            {
                N.FAMILY: fam,
                "label": result.priors.family_label(str(fam)),
                "median": float(median),
                "q05": float(q05),
                "q95": float(q95),
                "bias_median": float(quantile(bias.sel({N.FAMILY: fam}).values, 0.5)),
                **{f"mcse_{col}": float(err.sel({N.FAMILY: fam})) for col, err in errors.items()},
            }
        )
    return pd.DataFrame(rows).set_index(N.FAMILY)


def prob_shells_above(result, threshold: float = N.SHELLS_THRESHOLD) -> float:
    """Posterior probability that 152mm shells delivered exceed ``threshold``."""
    return float((_draws(result, N.SHELLS_152MM) > threshold).mean())


def claim_check_table(result, seed: int = 0, draws=None) -> pd.DataFrame:
    """Each fitted claim against its posterior predictive: what ``estimator score`` reports.

    Parameters
    ----------
    result : FitResult
    seed : int
        Passed to :func:`estimator.scoring.score_claims` (it matters only
        for claims dated past the fitted months).
    draws : xarray.Dataset, optional
        Draws of every parameter of the run's model that replace the
        posterior: ``draws=result.prior`` gives the prior predictive check,
        what the model expected each source to say before seeing any claim.

    Returns
    -------
    DataFrame
        :func:`estimator.scoring.score_claims` of the run's own claims
        (among its columns ``pred_q05``, ``pred_q50``, ``pred_q95``,
        ``pit_low``, ``pit_high``, ``p_figure``), and ``surprising``:
        ``p_figure`` below :data:`estimator.stats.SURPRISE_P`.
    """
    run = result if draws is None else dataclasses.replace(result, tree=xr.DataTree.from_dict({"posterior": draws}))
    table = score_claims(run, result.claims, seed=seed)
    table["surprising"] = table["p_figure"] < SURPRISE_P
    return table


def summary_dict(result) -> dict:
    """Everything the CLI prints, as plain JSON-ready data."""
    head = headline_table(result)
    diag = result.diagnostics
    return {
        "as_of": result.manifest.get("as_of"),
        "valuation_basis": result.priors.valuation_basis,
        "headline": {k: {c: float(v) for c, v in r.items() if c != "label"} for k, r in head.iterrows()},
        "containers_by_scope": {
            k: {c: (float(v) if c != "label" else v) for c, v in r.items()} for k, r in scope_table(result).iterrows()
        },
        "p_shells_152mm_above_2_million": prob_shells_above(result),
        "diagnostics": diag.as_dict(),
        "manifest": {k: v for k, v in result.manifest.items() if not k.endswith("_text")},
    }
