r"""The reconciliation model: claims ledger + priors -> a PyMC model.

Notation (all variable names are in :mod:`estimator.names`).

Containers over time
    Shipments start at :math:`t_0` (prior file, ``start_date``). Month
    :math:`m = 1..M` has a constant daily rate :math:`r_m > 0`,

    .. math::
        \log r_m = \log \bar r + \tau\,(w_m - \bar w), \quad
        w_1 = 0,\; w_m = w_{m-1} + z_m,\; z_m \sim N(0, 1),

    (``container_rate_mean`` :math:`\bar r`, ``container_rate_volatility``
    :math:`\tau`; a non-centred random walk). Cumulative containers
    :math:`C(t) = \sum_m r_m\, d_m(t)`, with :math:`d_m(t)` the days of month
    :math:`m` in :math:`[t_0, t)`, are non-decreasing and defined at every date.
    A claim about period :math:`[a, b]` counts :math:`C(b+1) - C(a)`.

Cargo
    Shares :math:`(s_{152}, s_{122}, s_{other}) \sim` Dirichlet (``cargo_mix``).
    152mm shells per container are bounded by the weight limit:
    :math:`k_{152} = (P / m_{152})\, f`, payload :math:`P`, gross shell mass
    :math:`m_{152}`, fill fraction :math:`f \in (0, 1)`. 122mm rounds per
    container :math:`k_{122}` have their own prior (volume, not weight, binds).

Delivered and value, as of date :math:`t`
    :math:`S_{152}(t) = C(t)\, s_{152} k_{152}`,
    :math:`R_{122}(t) = C(t)\, s_{122} k_{122}`, missiles :math:`N` (one latent
    total: the claims do not resolve missile timing), and value
    :math:`V = S_{152} p_{152} + R_{122} p_{122} + N p_N` with unit prices
    :math:`p` on the valuation basis named in the prior file.

Claims
    Each count claim :math:`i` from source family :math:`f` reports the
    family's own estimate :math:`\log \hat S_i \sim N(\log(\beta_f\, Q_i),
    \sigma_f)`, where :math:`Q_i` is the claimed quantity over the claim's period
    (containers, shells, rounds, missiles, value), :math:`\beta_f` the
    family's multiplicative bias (its scope) and :math:`\sigma_f` its noise.
    A capacity conversion ("N containers could hold X rounds") is evidence on
    rounds per container only: :math:`\log \hat k_i \sim N(\log k_q,
    \sigma_{conv})`; its container count enters, if at all, as its own count
    claim, so no evidence is used twice.

    The qualifier turns :math:`\hat S_i` into a likelihood
    (:mod:`estimator.claims`): a density for a point, :math:`\Phi` for a
    one-sided bound, and :math:`\log(\Phi(b) - \Phi(a))` for an interval,
    computed by :func:`log_diff_normal_cdf` without cancellation.

The builder is pure: it reads no files, samples nothing and does not modify
its inputs. Prior parameters are ``pm.Data`` so a compiled model can be refit
with other prior settings.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from estimator import claims as C
from estimator import names as N
from estimator.priors import PriorSet, check_families_used

__all__ = ["build_model", "ModelLayout", "model_layout", "log_diff_normal_cdf", "log_normal_cdf", "claims_logp", "claim_data", "prior_data_name", "DEFAULT_AS_OF"]

DEFAULT_AS_OF = dt.date(2024, 2, 23)

# PreliZ and PyMC agree on parameter names but for these.
_PYMC_PARAM = {("Dirichlet", "alpha"): "a"}

# Likelihood forms. The form of each claim is data (``claim_form``), not
# structure, so one compiled model serves every ledger of the same length,
# including simulated ledgers whose one-sided claims flip side.
POINT, LOWER, UPPER, INTERVAL = 0, 1, 2, 3


def log_normal_cdf(z):
    r""":math:`\log \Phi(z)`, accurate far into the lower tail.

    Below -1, :math:`\Phi(z) = \tfrac12 \operatorname{erfcx}(-z/\sqrt2)\, e^{-z^2/2}`;
    above, :math:`\log(1 - \tfrac12\operatorname{erfc}(z/\sqrt2))`. Each branch
    sees only inputs clamped to its own side: ``switch`` evaluates both, and an
    overflow in the branch not taken (``erfcx`` of a large negative number)
    would otherwise leak NaN into the gradient.
    """
    z_low = pt.minimum(z, -1.0)
    z_high = pt.maximum(z, -1.0)
    return pt.switch(
        pt.lt(z, -1.0),
        pt.log(pt.erfcx(-z_low / np.sqrt(2.0)) / 2.0) - pt.sqr(z_low) / 2.0,
        pt.log1p(-pt.erfc(z_high / np.sqrt(2.0)) / 2.0),
    )


def log_diff_normal_cdf(a, b):
    r""":math:`\log(\Phi(b) - \Phi(a))` for :math:`a < b`, stable in both tails.

    By symmetry :math:`\Phi(b) - \Phi(a) = \Phi(-a) - \Phi(-b)`; reflecting
    whenever :math:`a > 0` puts the lower end at or below zero, where
    :math:`\log \Phi` is accurate, and then
    :math:`\log(\Phi(b) - \Phi(a)) = \log\Phi(b) + \log(1 - e^{\log\Phi(a) -
    \log\Phi(b)})`. A naive ``logdiffexp(logcdf(b), logcdf(a))`` loses all
    digits when both ends lie far in the upper tail (it returns ``-inf``).
    """
    reflect = pt.gt(a, 0.0)
    lo = pt.switch(reflect, -b, a)
    hi = pt.switch(reflect, -a, b)
    lhi = log_normal_cdf(hi)
    llo = log_normal_cdf(lo)
    return lhi + pt.log1mexp(llo - lhi)


def prior_data_name(var: str, param: str) -> str:
    """Name of the ``pm.Data`` holding one prior parameter, e.g. ``fill_152mm__alpha``."""
    return f"{var}__{param}"


class ModelLayout:
    """Time grid and per-claim design derived from the ledger (plain numpy).

    Attributes
    ----------
    months : list of datetime.date
        First day of each modelled month; ``month_edges`` adds the end.
    exposure_claims : ndarray (n_claims, n_months)
        Days of each month inside each claim's period.
    exposure_as_of : ndarray (n_months,)
        Days of each month in ``[start, as_of]``.
    exposure_edges : ndarray (n_months + 1, n_months)
        Days of each month before each month edge (cumulative curve).
    """

    def __init__(self, claims: pd.DataFrame, priors: PriorSet, as_of, horizon=None):
        self.start = dt.date.fromisoformat(priors.start_date)
        self.as_of = _as_date(as_of)
        if self.as_of < self.start:
            raise ValueError(f"as-of date {self.as_of} is before the start of shipments {self.start}")
        extra = [_as_date(horizon)] if horizon is not None else []
        last = max([self.as_of, *extra, *claims["period_end"], *claims["date_said"]])
        self.months = []
        m = self.start.replace(day=1)
        while m <= last:
            self.months.append(m)
            m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        self.month_edges = [*self.months, m]
        self.exposure_as_of = self.exposure(self.as_of + dt.timedelta(days=1))
        rows = []
        for _, row in claims.iterrows():
            end = self.exposure(row["period_end"] + dt.timedelta(days=1))
            start = self.exposure(row["period_start"]) if row["period_start"] is not None else 0.0
            rows.append(end - start)
        self.exposure_claims = np.array(rows, dtype=float)
        self.exposure_edges = np.array([self.exposure(e) for e in self.month_edges], dtype=float)

    def exposure(self, t: dt.date) -> np.ndarray:
        """Days of each month in ``[start, t)``: ``C(t) = exposure(t) @ rates``."""
        out = np.zeros(len(self.months))
        for i, (a, b) in enumerate(zip(self.month_edges[:-1], self.month_edges[1:])):
            lo, hi = max(a, self.start), min(b, t)
            out[i] = max((hi - lo).days, 0)
        return out

    @property
    def month_labels(self) -> list[str]:
        return [m.strftime("%Y-%m") for m in self.months]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def model_layout(claims, priors, as_of=DEFAULT_AS_OF) -> ModelLayout:
    """The time grid and claim design the model would use (no PyMC involved)."""
    return ModelLayout(claims, priors, as_of)


def _prior_rv(name, spec, dims=None):
    """A PyMC random variable whose parameters are ``pm.Data`` (sweepable)."""
    kwargs = {}
    for p, v in spec.params.items():
        kwargs[_PYMC_PARAM.get((spec.distribution, p), p)] = pm.Data(prior_data_name(name, p), np.asarray(v, dtype=float))
    return getattr(pm, spec.distribution)(name, **kwargs, dims=dims)


def claim_forms(claims: pd.DataFrame) -> np.ndarray:
    """Likelihood form per claim: POINT, LOWER (S >= low), UPPER (S <= high) or INTERVAL."""
    low, high = claims["low"].to_numpy(float), claims["high"].to_numpy(float)
    forms = np.full(len(claims), INTERVAL)
    forms[low == high] = POINT
    forms[np.isinf(high)] = LOWER
    forms[np.isinf(low)] = UPPER
    return forms


def claim_data(claims: pd.DataFrame) -> dict[str, np.ndarray]:
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
    }


CLAIM_FORM = "claim_form"
CLAIM_LOG_FIGURE, CLAIM_LOG_LOW, CLAIM_LOG_HIGH = "claim_log_figure", "claim_log_low", "claim_log_high"
EXPOSURE_AS_OF = "exposure_as_of"
UNUSED_BOUND_OFFSET = 1.0


def claims_logp(value, mu, sigma, log_low, log_high, form):
    r"""One log-likelihood term per claim, by its form (see :mod:`estimator.claims`).

    With :math:`z(x) = (x - \mu)/\sigma`: a point is the normal log density
    of the log figure; "at least" is :math:`\log \Phi(-z(\ell))`; "at most"
    :math:`\log \Phi(z(h))`; a range :math:`\log(\Phi(z(h)) - \Phi(z(\ell)))`.
    All four are computed for every claim (cheap: a dozen claims) from the
    finite inputs :func:`claim_data` guarantees, and ``form`` selects one.
    """
    z = (value - mu) / sigma
    point = -0.5 * z**2 - pt.log(sigma) - 0.5 * np.log(2 * np.pi)
    lower = log_normal_cdf((mu - log_low) / sigma)
    upper = log_normal_cdf((log_high - mu) / sigma)
    interval = log_diff_normal_cdf((log_low - mu) / sigma, (log_high - mu) / sigma)
    return pt.switch(
        pt.eq(form, POINT),
        point,
        pt.switch(pt.eq(form, LOWER), lower, pt.switch(pt.eq(form, UPPER), upper, interval)),
    )


def build_model(claims: pd.DataFrame, priors: PriorSet, *, as_of=DEFAULT_AS_OF, horizon=None) -> pm.Model:
    """Build the reconciliation model (pure: no I/O, no sampling, inputs untouched).

    Parameters
    ----------
    claims : DataFrame
        Validated ledger from :func:`estimator.load_claims`.
    priors : PriorSet
        Validated priors from :func:`estimator.load_priors`.
    as_of : date or str
        Date of the headline quantities (default 2024-02-23).
    horizon : date or str, optional
        Model months up to this date too, so that the as-of date (the
        ``pm.Data`` ``exposure_as_of``) can later be moved up to it.

    Returns
    -------
    pymc.Model
    """
    check_families_used(priors, claims)
    layout = ModelLayout(claims, priors, as_of, horizon)
    families = list(priors.families)
    fam_idx = np.array([families.index(f) for f in claims["source_family"]])
    quantities = list(C.QUANTITIES)
    q_idx = np.array([quantities.index(q) for q in claims["quantity"]])
    is_capacity = (claims["kind"] == C.CAPACITY).to_numpy()
    cap_idx = np.array([C.CAPACITY_QUANTITIES.index(q) if k else 0 for q, k in zip(claims["quantity"], is_capacity)])

    coords = {
        N.CLAIM: list(claims.index),
        N.FAMILY: families,
        N.MONTH: layout.month_labels,
        N.MONTH_EDGE: [e.isoformat() for e in layout.month_edges],
        "innovation": layout.month_labels[1:],
        N.CARGO: list(N.CARGO_TYPES),
    }
    P = priors.parameters
    with pm.Model(coords=coords) as model:
        # Containers over time: non-centred random walk on the log daily rate.
        rate_mean = _prior_rv(N.CONTAINER_RATE_MEAN, P[N.CONTAINER_RATE_MEAN])
        volatility = _prior_rv(N.CONTAINER_RATE_VOLATILITY, P[N.CONTAINER_RATE_VOLATILITY])
        n_months = len(layout.months)
        if n_months > 1:
            z = pm.Normal(N.RATE_INNOVATIONS, 0.0, 1.0, dims="innovation")
            walk = pt.concatenate([pt.zeros(1), pt.cumsum(z)])
        else:
            walk = pt.zeros(1)
        log_rate = pt.log(rate_mean) + volatility * (walk - walk.mean())
        rate = pm.Deterministic(N.CONTAINER_RATE, pt.exp(log_rate), dims=N.MONTH)

        # Cargo: mix and per-container loads (152mm bounded by weight).
        mix = _prior_rv(N.CARGO_MIX, P[N.CARGO_MIX], dims=N.CARGO)
        payload = _prior_rv(N.CONTAINER_PAYLOAD_KG, P[N.CONTAINER_PAYLOAD_KG])
        shell_mass = _prior_rv(N.SHELL_MASS_152MM_KG, P[N.SHELL_MASS_152MM_KG])
        fill = _prior_rv(N.FILL_152MM, P[N.FILL_152MM])
        k_max = pm.Deterministic(N.MAX_SHELLS_PER_CONTAINER_152MM, payload / shell_mass)
        k152 = pm.Deterministic(N.SHELLS_PER_CONTAINER_152MM, k_max * fill)
        k122 = _prior_rv(N.ROUNDS_PER_CONTAINER_122MM, P[N.ROUNDS_PER_CONTAINER_122MM])
        missiles = _prior_rv(N.MISSILES_DELIVERED, P[N.MISSILES_DELIVERED])
        p152 = _prior_rv(N.PRICE_152MM_USD, P[N.PRICE_152MM_USD])
        p122 = _prior_rv(N.PRICE_122MM_USD, P[N.PRICE_122MM_USD])
        p_missile = _prior_rv(N.PRICE_MISSILE_USD, P[N.PRICE_MISSILE_USD])

        # Source families: bias (scope) and noise, one scalar prior each.
        bias = pm.Deterministic(
            N.FAMILY_BIAS,
            pt.stack([_prior_rv(N.family_variable(N.BIAS, f), priors.family_priors[f][N.BIAS]) for f in families]),
            dims=N.FAMILY,
        )
        noise = pm.Deterministic(
            N.FAMILY_NOISE,
            pt.stack([_prior_rv(N.family_variable(N.NOISE, f), priors.family_priors[f][N.NOISE]) for f in families]),
            dims=N.FAMILY,
        )
        conv_noise = _prior_rv(N.CONVERSION_NOISE, P[N.CONVERSION_NOISE])

        # Headline quantities as of the as-of date.
        per_container_152 = mix[0] * k152
        per_container_122 = mix[1] * k122
        exposure_as_of = pm.Data(EXPOSURE_AS_OF, layout.exposure_as_of, dims=N.MONTH)
        # Sums of products rather than pt.dot: BLAS rounds differently with its thread
        # count, and sampling amplifies that last bit into different draws; these
        # arrays are tiny, so plain sums cost nothing and make results reproducible.
        containers = pm.Deterministic(N.CONTAINERS, (exposure_as_of * rate).sum())
        shells = pm.Deterministic(N.SHELLS_152MM, containers * per_container_152)
        rounds = pm.Deterministic(N.ROUNDS_122MM, containers * per_container_122)
        pm.Deterministic(N.ARTILLERY_ROUNDS, shells + rounds)
        v152 = pm.Deterministic(N.VALUE_152MM_USD, shells * p152)
        v122 = pm.Deterministic(N.VALUE_122MM_USD, rounds * p122)
        vmis = pm.Deterministic(N.VALUE_MISSILES_USD, missiles * p_missile)
        pm.Deterministic(N.VALUE_USD, v152 + v122 + vmis)
        pm.Deterministic(N.CONTAINERS_AS_REPORTED, containers * bias, dims=N.FAMILY)
        pm.Deterministic(N.CONTAINERS_CUMULATIVE, (layout.exposure_edges * rate).sum(axis=-1), dims=N.MONTH_EDGE)

        # Each claim's expected log figure and noise.
        containers_claim = (layout.exposure_claims * rate).sum(axis=-1)
        # What one container and one missile add to each claimed quantity; stacked in
        # the order of C.QUANTITIES, which q_idx indexes, and zero where not named.
        zero, one = pt.zeros(()), pt.ones(())
        per_container = {
            C.CONTAINERS: one,
            C.SHELLS_152MM: per_container_152,
            C.ROUNDS_122MM: per_container_122,
            C.ARTILLERY_ROUNDS: per_container_152 + per_container_122,
            C.VALUE_USD: per_container_152 * p152 + per_container_122 * p122,
        }
        per_missile = {C.MISSILES_DELIVERED: one, C.MISSILES_LAUNCHED: one, C.VALUE_USD: p_missile}
        per_container = pt.stack([per_container.get(q, zero) for q in quantities])
        per_missile = pt.stack([per_missile.get(q, zero) for q in quantities])
        count_truth = containers_claim * per_container[q_idx] + missiles * per_missile[q_idx]
        capacity_truth = pt.stack([k152, k122])[cap_idx]
        mu = pt.switch(is_capacity, pt.log(capacity_truth), pt.log(count_truth) + pt.log(bias)[fam_idx])
        sigma = pt.switch(is_capacity, conv_noise, noise[fam_idx])
        mu = pm.Deterministic(N.CLAIM_LOG_MEAN, mu, dims=N.CLAIM)
        sigma = pm.Deterministic(N.CLAIM_LOG_SD, sigma, dims=N.CLAIM)
        data = {k: pm.Data(k, v, dims=N.CLAIM) for k, v in claim_data(claims).items()}
        pm.CustomDist(
            N.CLAIMS,
            mu,
            sigma,
            data[CLAIM_LOG_LOW],
            data[CLAIM_LOG_HIGH],
            data[CLAIM_FORM],
            logp=claims_logp,
            observed=data[CLAIM_LOG_FIGURE],
            dims=N.CLAIM,
        )
    return model
