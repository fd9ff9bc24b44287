r"""Each claim as a likelihood term: its form (point, bound or range), its data, and its log density.

A claim says something about its source's own estimate :math:`S` (the
qualifier's reading is in :mod:`estimator.claims`). With the model's
predictive moments :math:`\mu, \sigma` of :math:`\log S`, a point is the
normal density of its log figure, a bound or range the normal probability of
its log interval (computed stably in the tails, :func:`log_diff_normal_cdf`),
each weighted by the claim's weight (0 for a claim not yet said, a padding
row, or an excluded restatement). The form of each claim is data, not
structure, so one compiled model serves every ledger of the same length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt

from estimator import claims as C
from estimator.timeline import ModelLayout

__all__ = [
    "claims_logp",
    "claims_random",
    "claim_loglik",
    "claim_data",
    "padded_claim_data",
    "claim_design",
    "claim_capacity",
    "padding_ids",
    "claim_forms",
    "counted_claims",
    "log_normal_cdf",
    "log_diff_normal_cdf",
    "RESTATEMENTS",
    "DEFAULT_RESTATEMENTS",
]


# How a restatement enters the likelihood (module docstring, "Restatements"). Chosen by the
# leave-future-out backtest (docs/ledger-record.md): excluded scored as well as shared (log
# predictive density within 0.01 per claim, coverage alike) and sampled cleanly, where shared
# left divergences in four of five exact fits and halved the effective sample size.
EXCLUDED, SHARED, INDEPENDENT = "excluded", "shared", "independent"
RESTATEMENTS = (EXCLUDED, SHARED, INDEPENDENT)
DEFAULT_RESTATEMENTS = EXCLUDED

# Likelihood forms. The form of each claim is data (``claim_form``), not
# structure, so one compiled model serves every ledger of the same length,
# including simulated ledgers whose one-sided claims flip side.
POINT, LOWER, UPPER, INTERVAL = 0, 1, 2, 3


def log_normal_cdf(z):
    r""":math:`\log \Phi(z)` for :math:`z \le 0`, accurate far into the tail.

    :math:`\Phi(z) = \tfrac12 \operatorname{erfcx}(-z/\sqrt2)\, e^{-z^2/2}`,
    one special function; :math:`\operatorname{erfcx}` of a non-negative
    argument neither overflows nor underflows. Above zero the identity
    still holds, but :math:`\operatorname{erfcx}` overflows beyond
    :math:`z \approx 37` and the result keeps only absolute precision, so
    :func:`log_diff_normal_cdf` calls it at non-positive arguments only.
    """
    return pt.log(pt.erfcx(-z / np.sqrt(2.0)) / 2.0) - pt.sqr(z) / 2.0


def log_diff_normal_cdf(a, b):
    r""":math:`\log(\Phi(b) - \Phi(a))` for :math:`a < b`, stable in both tails.

    By symmetry :math:`\Phi(b) - \Phi(a) = \Phi(-a) - \Phi(-b)`; reflecting
    whenever :math:`a > 0` puts the lower end :math:`a'` at or below zero
    (upper end :math:`b'`). With :math:`c = -|b'|`, :func:`log_normal_cdf`
    is needed at two non-positive points only, :math:`a'` and :math:`c`:

    - :math:`b' \le 0` (the interval lies below zero):
      :math:`\log\Phi(b') + \log(1 - e^{\log\Phi(a') - \log\Phi(b')})`;
    - :math:`b' > 0` (it straddles zero):
      :math:`\log(1 - \Phi(a') - \Phi(-b'))`, the two tails outside it.

    Both are relatively accurate everywhere (a naive
    ``logdiffexp(logcdf(b), logcdf(a))`` returns ``-inf`` far in the upper
    tail). Two ``erfcx`` calls in all: ``switch`` evaluates both branches, so
    the earlier form, with ``erfc`` on the upper side as well, cost about a
    fifth more (1.4 microseconds for 64 claims, README, Performance). The
    lower branch, when not taken, is clamped to stay finite, so it cannot
    leak NaN into the gradient.
    """
    reflect = pt.gt(a, 0.0)
    lo = pt.switch(reflect, -b, a)
    hi = pt.switch(reflect, -a, b)
    c = -pt.abs(hi)
    llo, lc = log_normal_cdf(lo), log_normal_cdf(c)
    # lo < c whenever this branch is taken; when it is not, lo - c may be >= 0.
    below = lc + pt.log1mexp(pt.minimum(llo - lc, -1e-300))
    straddle = pt.log1p(-pt.exp(llo) - pt.exp(lc))
    return pt.switch(pt.le(hi, 0.0), below, straddle)


def claim_forms(claims: pd.DataFrame) -> np.ndarray:
    """Likelihood form per claim: POINT, LOWER (S >= low), UPPER (S <= high) or INTERVAL."""
    low, high = claims["low"].to_numpy(float), claims["high"].to_numpy(float)
    forms = np.full(len(claims), INTERVAL)
    forms[low == high] = POINT
    forms[np.isinf(high)] = LOWER
    forms[np.isinf(low)] = UPPER
    return forms


def claim_data(claims: pd.DataFrame, weight=None) -> dict[str, np.ndarray]:
    """The ledger's numbers as the model's data: form, log figure and log bounds per claim.

    These are ``pm.Data`` in the model, so a compiled model can be refit on
    another ledger with as many claims (a simulated one, or the same ledger
    with a qualifier changed).

    Every likelihood form is evaluated for every claim and the claim's own is
    selected, so every form must see finite inputs with low < high: a bound a
    form does not read is set :data:`UNUSED_BOUND_OFFSET` log units beyond
    the one it does (``switch`` passes a zero gradient to the branch not
    taken, but zero times an infinite gradient is NaN).
    """
    forms = claim_forms(claims)
    low, high = claims["low"].to_numpy(float), claims["high"].to_numpy(float)
    log_low = np.full(low.shape, -np.inf)
    np.log(low, out=log_low, where=low > 0)
    log_high = np.log(high)
    # The observed value: the log figure for points, a log bound otherwise.
    observed = np.where(forms == UPPER, log_high, log_low)
    safe_low = np.where(np.isfinite(log_low), log_low, log_high - UNUSED_BOUND_OFFSET)
    safe_high = np.where(np.isfinite(log_high) & (forms != POINT), log_high, safe_low + UNUSED_BOUND_OFFSET)
    return {
        CLAIM_FORM: forms.astype(np.int64),
        CLAIM_LOG_FIGURE: observed,
        CLAIM_LOG_LOW: safe_low,
        CLAIM_LOG_HIGH: safe_high,
        CLAIM_WEIGHT: np.ones(len(claims)) if weight is None else np.asarray(weight, dtype=float),
    }


CLAIM_FORM = "claim_form"
CLAIM_LOG_FIGURE, CLAIM_LOG_LOW, CLAIM_LOG_HIGH = "claim_log_figure", "claim_log_low", "claim_log_high"
CLAIM_WEIGHT = "claim_weight"
UNUSED_BOUND_OFFSET = 1.0

# The open end of a one-sided claim, in log units: a factor e^1000 beyond any count, so
# about 200 noise sd away even at a noise sd of 5 (Phi there is 1 in float64).
OPEN_BOUND = 1e3


def claims_logp(value, mu, sigma, log_low, log_high, form, weight=1.0):
    r"""One log-likelihood term per claim, by its form (see :mod:`estimator.claims`).

    With :math:`z(x) = (x - \mu)/\sigma`: a point is the normal log density
    of the log figure; "at least" is :math:`\log \Phi(-z(\ell))`; "at most"
    :math:`\log \Phi(z(h))`; a range :math:`\log(\Phi(z(h)) - \Phi(z(\ell)))`.
    The one-sided forms are computed as ranges whose open end is
    :data:`OPEN_BOUND` log units away (:math:`\Phi` there is 1 in float64),
    so every claim costs one point and one range term, from the finite
    inputs :func:`claim_data` guarantees, and ``form`` selects one;
    ``weight`` (1: the claim is known, 0: not yet said) multiplies the term.
    """
    z = (value - mu) / sigma
    point = -0.5 * z**2 - pt.log(sigma) - 0.5 * np.log(2 * np.pi)
    # One-sided forms are intervals with the open end OPEN_BOUND log units away:
    # log(Phi(b) - Phi(a)) is then log Phi(b) (or log Phi(-a)) to float64 round-off, and
    # one range term per claim costs half of evaluating three forms.
    low = pt.switch(pt.eq(form, UPPER), -OPEN_BOUND, log_low)
    high = pt.switch(pt.eq(form, LOWER), OPEN_BOUND, log_high)
    interval = log_diff_normal_cdf((low - mu) / sigma, (high - mu) / sigma)
    return weight * pt.switch(pt.eq(form, POINT), point, interval)


_CLAIM_LOGLIK_FN = None


def claim_loglik(claims: pd.DataFrame, mu, sigma) -> np.ndarray:
    """Each claim's log-likelihood term under predictive moments, draw by draw (numpy in and out).

    ``mu`` and ``sigma`` have shape (claim, draw): the log estimate's mean and
    sd (``claim_log_mean``, ``claim_log_sd``). The term is the model's own,
    :func:`claims_logp` (compiled once per process): the log probability of
    the claim's interval or bound, or the log density of a point's log figure.
    """
    global _CLAIM_LOGLIK_FN
    if _CLAIM_LOGLIK_FN is None:
        v, m, sd, lo, hi = (pt.matrix(n) for n in ("value", "mu", "sigma", "log_low", "log_high"))
        form = pt.matrix("form", dtype="int64")
        _CLAIM_LOGLIK_FN = pytensor.function([v, m, sd, lo, hi, form], claims_logp(v, m, sd, lo, hi, form))
    mu = np.asarray(mu, dtype=float)
    d = claim_data(claims)

    def col(x):
        return np.broadcast_to(np.asarray(x)[:, None], mu.shape)

    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), mu.shape)
    return _CLAIM_LOGLIK_FN(
        col(d[CLAIM_LOG_FIGURE]),
        mu,
        sigma,
        col(d[CLAIM_LOG_LOW]),
        col(d[CLAIM_LOG_HIGH]),
        col(d[CLAIM_FORM]).astype(np.int64),
    )


def claims_random(mu, sigma, log_low, log_high, form, weight, rng=None, size=None):
    r"""Draw each source's log estimate :math:`\log \hat S_i \sim N(\mu_i, \sigma_i)`.

    The predictive variable is the source's own (uncensored) log estimate,
    not the claim as worded: a "more than x" claim predicts the estimate
    behind it, and its qualifier is applied when that draw is compared with
    the figure. The bounds, form and weight are accepted, as the likelihood
    takes them, and unused.
    """
    return rng.normal(mu, sigma, size=size)


def claim_capacity(n_claims: int) -> int:
    """The padded claim count a compiled model is built for: the next power of two, at least 16.

    Ledgers that grow by a claim (or by up to the next power of two) then
    share one compiled model; the padding costs at most twice the claims.
    """
    return max(16, 1 << max(int(n_claims) - 1, 0).bit_length())


def padding_ids(claims: pd.DataFrame, capacity: int) -> list[str]:
    """Identifiers of the weight-0 claims that pad ``claims`` to ``capacity``."""
    return [f"__padding_{i}" for i in range(capacity - len(claims))]


def claim_design(
    claims: pd.DataFrame,
    families: list[str],
    layout: ModelLayout,
    capacity: int | None = None,
    restatements: str = DEFAULT_RESTATEMENTS,
) -> dict[str, np.ndarray]:
    """Per-claim design of the model as ``pm.Data``: exposure rows, family, quantity and capacity indices, and restatements.

    ``claim_counted`` (:func:`counted_claims`) multiplies each claim's
    weight; ``claim_group`` (:func:`estimator.claims.restatement_groups`) is read under ``shared``.

    With ``capacity``, the claims are padded to that many by repeating the
    first claim's design; :func:`claim_data` gives the padded claims weight 0,
    so they add nothing to the log-likelihood or its gradient.
    """
    is_capacity = (claims["kind"] == C.CAPACITY).to_numpy()
    design = {
        CLAIM_EXPOSURE: layout.exposure_claims,
        CLAIM_FAMILY: np.array([families.index(f) for f in claims["source_family"]], dtype=np.int64),
        CLAIM_QUANTITY: np.array([QUANTITY_ORDER.index(q) for q in claims["quantity"]], dtype=np.int64),
        CLAIM_CAPACITY_QUANTITY: np.array(
            [C.CAPACITY_QUANTITIES.index(q) if k else 0 for q, k in zip(claims["quantity"], is_capacity)],
            dtype=np.int64,
        ),
        CLAIM_IS_CAPACITY: is_capacity.astype(np.int64),
        CLAIM_COUNTED: counted_claims(claims, restatements),
        CLAIM_GROUP: C.restatement_groups(claims)[0],
    }
    return {k: _pad(v, capacity) for k, v in design.items()}


def _pad(values: np.ndarray, capacity: int | None) -> np.ndarray:
    """``values`` with its first row repeated up to ``capacity`` rows (unchanged without one)."""
    values = np.asarray(values)
    if capacity is None or capacity == len(values):
        return values
    if capacity < len(values):
        raise ValueError(f"capacity {capacity} is below the {len(values)} claims")
    return np.concatenate([values, np.repeat(values[:1], capacity - len(values), axis=0)])


def padded_claim_data(claims: pd.DataFrame, capacity: int | None = None, weight=None) -> dict[str, np.ndarray]:
    """:func:`claim_data` padded to ``capacity`` (padded claims have weight 0)."""
    data = claim_data(claims, weight)
    out = {k: _pad(v, capacity) for k, v in data.items()}
    if capacity is not None:
        out[CLAIM_WEIGHT] = np.concatenate([data[CLAIM_WEIGHT], np.zeros(capacity - len(claims))])
    return out


CLAIM_EXPOSURE = "claim_exposure"
CLAIM_COUNTED, CLAIM_GROUP = "claim_counted", "claim_group"
RESTATEMENT_GROUP, RESTATEMENT_ERROR = "restatement_group", "restatement_error"


def counted_claims(claims: pd.DataFrame, restatements: str = DEFAULT_RESTATEMENTS) -> np.ndarray:
    """1 for a claim whose likelihood counts, 0 for a restatement under ``excluded`` (module docstring)."""
    if restatements not in RESTATEMENTS:
        raise ValueError(f"unknown restatements option '{restatements}'; one of {', '.join(RESTATEMENTS)}")
    originals = C.restated_originals(claims)
    return np.array([0.0 if restatements == EXCLUDED and originals[c] else 1.0 for c in claims.index])


CLAIM_FAMILY, CLAIM_QUANTITY = "claim_family", "claim_quantity"
CLAIM_CAPACITY_QUANTITY, CLAIM_IS_CAPACITY = "claim_capacity_quantity", "claim_is_capacity"

# Order of the claimable quantities in the model's per-quantity factors (claim_quantity indexes it).
QUANTITY_ORDER = (
    C.CONTAINERS,
    C.SHELLS_152MM,
    C.ROUNDS_122MM,
    C.ARTILLERY_ROUNDS,
    C.MISSILES_DELIVERED,
    C.MISSILES_LAUNCHED,
    C.VALUE_USD,
)
