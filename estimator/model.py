r"""The reconciliation model: claims ledger + priors -> a PyMC model.

Notation (all variable names are in :mod:`estimator.names`).

Containers and missiles over time
    Shipments start at :math:`t_0` (prior file, ``start_date``). Month
    :math:`m = 1..M` has a constant daily container rate :math:`r_m > 0` and
    a constant daily missile delivery rate :math:`\lambda_m > 0`, each a
    positive series :math:`\log r_m = \log \bar r + x_m` whose departures
    :math:`x_m` follow the chosen *rate dynamics* (non-centred, innovations
    :math:`z_m \sim N(0, 1)`):

    * ``random_walk``: :math:`w_1 = 0,\; w_m = w_{m-1} + z_m`,
      :math:`x_m = \tau (w_m - \bar w)`: the rate wanders without bound and
      :math:`\bar r` is its geometric mean over the modelled months;
    * ``ar1`` (mean-reverting): :math:`x_1 = \tau z_1`,
      :math:`x_m = \phi\, x_{m-1} + \tau z_m`: the rate starts near its
      long-run median :math:`\bar r` and reverts to it with half-life
      :math:`\log 0.5 / \log \phi` months; the log-scale spread approaches
      :math:`\tau/\sqrt{1-\phi^2}` and never exceeds it, so a forecast many
      months ahead stays within a bounded spread. (A stationary start,
      :math:`x_1 = \tau z_1/\sqrt{1-\phi^2}`, made a funnel as
      :math:`\phi \to 1` in which NUTS diverged.)

    (``container_rate_mean`` :math:`\bar r`, ``container_rate_volatility``
    :math:`\tau`, ``container_rate_persistence`` :math:`\phi`, and the same
    three ``missile_rate_*`` entries for :math:`\lambda`.) Cumulative counts
    :math:`C(t) = \sum_m r_m\, d_m(t)` and :math:`M(t) = \sum_m \lambda_m\,
    d_m(t)`, with :math:`d_m(t)` the days of month :math:`m` in
    :math:`[t_0, t)`, are non-decreasing and defined at every date. A claim
    about period :math:`[a, b]` counts :math:`C(b+1) - C(a)` (or
    :math:`M(b+1) - M(a)`); missiles *launched* by :math:`b` are bounded by
    the missiles delivered by then, :math:`M(b+1)`, whatever the period of
    the launches. A claim about a date after the last claim is a forecast of
    the same series: months without claims follow the dynamics' prior given
    the months before.

    The sampler moves in other coordinates than these (the model is the
    same, :mod:`estimator.coordinates`): for ``ar1``, the long-run mean as
    the level of the modelled months, :math:`\log \bar r + \bar x`
    (``LevelCoordinate``), and the innovations partially centred,
    :math:`\tau^{w} z_m` (``PartialCentring``). In the model's own
    coordinates NUTS diverged where a large volatility and a persistence
    near one let the level trade off against every innovation, and needed
    target_accept 0.99 (40-47 gradient evaluations a draw); in these it
    samples at 0.97 with about 30, and at 0.95 with about 20 and a rare
    divergence.

Cargo
    Shares :math:`(s_{152}, s_{122}, s_{other}) \sim` Dirichlet (``cargo_mix``).
    152mm shells per container are bounded by the weight limit:
    :math:`k_{152} = (P / m_{152})\, f`, payload :math:`P`, gross shell mass
    :math:`m_{152}`, fill fraction :math:`f \in (0, 1)`. 122mm rounds per
    container :math:`k_{122}` have their own prior (volume, not weight, binds).

Delivered and value, as of date :math:`t`
    :math:`S_{152}(t) = C(t)\, s_{152} k_{152}`,
    :math:`R_{122}(t) = C(t)\, s_{122} k_{122}`, missiles :math:`M(t)`, and
    value :math:`V = S_{152} p_{152} + R_{122} p_{122} + M p_M` with unit
    prices :math:`p` on the valuation basis named in the prior file.

    The cargo mix :math:`s` and the loads :math:`k` are constant over time:
    no claim in the record dates a change of mix (the South Korean "it could
    possibly be a mix of the two" of 2024-02-26 speaks of all containers to
    date), and a drifting mix would be identified only by the prior. A claim
    of shells at a later date therefore moves with the container count.

Claims
    Each count claim :math:`i` from source family :math:`f` reports the
    family's own estimate :math:`\log \hat S_i \sim N(\log(\beta_f\, Q_i),
    \sigma_f)`, where :math:`Q_i` is the claimed quantity over the claim's period
    (containers, shells, rounds, missiles, value), :math:`\beta_f` the
    family's multiplicative bias (its scope) and :math:`\sigma_f` its noise.
    Families are partially pooled: :math:`\log \beta_f = \mu_\beta +
    s_\beta\, \epsilon_f` and :math:`\log(\sigma_f - \sigma_0) = \mu_\sigma +
    s_\sigma\, \eta_f` above a floor :math:`\sigma_0 = 0.05`
    (:data:`NOISE_FLOOR`), with :math:`\epsilon_f, \eta_f \sim N(0, 1)` (non-centred) and
    hyperpriors ``family_log_bias_mean`` :math:`\mu_\beta`,
    ``family_log_bias_spread`` :math:`s_\beta`, ``family_log_noise_mean``
    :math:`\mu_\sigma` and ``family_log_noise_spread`` :math:`s_\sigma` in the
    prior file. A family needs only a label; one with a single claim borrows
    strength from the others, and one the fit never saw is a draw from the
    population.
    A capacity conversion ("N containers could hold X rounds") is evidence on
    rounds per container only: :math:`\log \hat k_i \sim N(\log k_q,
    \sigma_{conv})`; its container count enters, if at all, as its own count
    claim, so no evidence is used twice.

    The qualifier turns :math:`\hat S_i` into a likelihood
    (:mod:`estimator.claims`): a density for a point, :math:`\Phi` for a
    one-sided bound, and :math:`\log(\Phi(b) - \Phi(a))` for an interval,
    computed by :func:`log_diff_normal_cdf` without cancellation.

Restatements
    A claim whose ``restates`` names another row repeats that row's estimate
    (another speaker, or a later day). ``restatements`` chooses how it enters
    (:data:`RESTATEMENTS`):

    * ``excluded``: it adds no likelihood of its own (weight 0, as a claim not
      yet said); it is predicted and shown like any claim;
    * ``shared``: the claims retelling one estimate share its error. For
      original :math:`g` and each claim :math:`i` of its group,
      :math:`\log \hat S_i = \mu_i + \sqrt{\sigma_i^2 - r_i^2}\, e_g + r_i\,
      \epsilon_i` with :math:`e_g, \epsilon_i \sim N(0, 1)` and
      :math:`r_i = \min(\sigma_i, r)`, :math:`r` = :data:`RETELLING_NOISE`:
      each claim keeps its own marginal :math:`N(\mu_i, \sigma_i)`, and two
      claims of a group differ only by the retelling. ``claim_log_mean`` and
      ``claim_log_sd`` are then conditional on :math:`e_g`;
    * ``independent``: every row is its own draw of its family's estimate
      (the model before restatements were marked).

    A restatement whose original is not in the ledger is fitted as an original.

The builder is pure: it reads no files, samples nothing and does not modify
its inputs. Prior parameters are ``pm.Data`` so a compiled model can be refit
with other prior settings, and so is each claim's weight :math:`w_i \in
\{0, 1\}` (``claim_weight``; the log-likelihood is :math:`\sum_i w_i \log
p(y_i \mid \theta)`), so one compiled model of a whole ledger is refit on
the claims known at any vintage (:mod:`estimator.backtest`). The per-claim
design (exposure rows, family, quantity and capacity indices) is ``pm.Data``
too, and ``build_model(..., capacity=n)`` pads the claims to ``n`` with
weight-0 copies: one compiled model then serves every ledger of up to ``n``
claims over the same months (a ledger with one more claim, a simulated one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt

from estimator import claims as C
from estimator import names as N
from estimator.coordinates import CENTRING_WEIGHT, LevelCoordinate, PartialCentring, coupled_rv
from estimator.errors import InputError, Problem
from estimator.priors import PriorSet

__all__ = [
    "build_model",
    "add_months",
    "result_model",
    "ModelLayout",
    "model_layout",
    "log_diff_normal_cdf",
    "log_normal_cdf",
    "claims_logp",
    "claims_random",
    "claim_loglik",
    "claim_data",
    "padded_claim_data",
    "claim_design",
    "claim_capacity",
    "padding_ids",
    "prior_data_name",
    "default_as_of",
    "next_month",
    "months_between",
    "forecast_log_rates",
    "DYNAMICS",
    "DEFAULT_DYNAMICS",
    "FORECAST_MONTHS",
    "MAX_MONTHS",
    "RESTATEMENTS",
    "DEFAULT_RESTATEMENTS",
    "counted_claims",
]

RANDOM_WALK, AR1 = "random_walk", "ar1"
DYNAMICS = (AR1, RANDOM_WALK)
# Chosen by the leave-future-out backtest (README, "Through time").
DEFAULT_DYNAMICS = AR1
# How a restatement enters the likelihood (module docstring, "Restatements"). Chosen by the
# leave-future-out backtest (docs/ledger-record.md): excluded scored as well as shared (log
# predictive density within 0.01 per claim, coverage alike) and sampled cleanly, where shared
# left divergences in four of five exact fits and halved the effective sample size.
EXCLUDED, SHARED, INDEPENDENT = "excluded", "shared", "independent"
RESTATEMENTS = (EXCLUDED, SHARED, INDEPENDENT)
DEFAULT_RESTATEMENTS = EXCLUDED
# The part of a restatement's error not shared with the estimate it retells: the
# rounding of a retelling (6,700 told as "about 7,000" moves 4%), at the noise floor.
RETELLING_NOISE = 0.05
# How far past the last claim an as-of date or a scored claim may reach.
FORECAST_MONTHS = 24
# The longest time grid a model is built on: twenty years of monthly rates. The
# record spans about two years; a grid of centuries (a year typed 2099 for 2024)
# would take hours to build and sample, so it is refused at once instead.
MAX_MONTHS = 240

# PreliZ and PyMC agree on parameter names but for these.
_PYMC_PARAM = {("Dirichlet", "alpha"): "a"}

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


def prior_data_name(var: str, param: str) -> str:
    """Name of the ``pm.Data`` holding one prior parameter, e.g. ``fill_152mm__alpha``."""
    return f"{var}__{param}"


class ModelLayout:
    """Time grid and per-claim design derived from the ledger (plain numpy).

    A claim's period counts from its ``period_start``, or from the start of
    shipments (the prior file's ``start_date``) when it has none or names an
    earlier day: sources say "since February 2022" of shipments the model
    dates from later, and nothing was shipped before the start to count.
    A claim whose whole period ends before the start counts nothing and is
    refused, as are an as-of date before the start and a grid of more than
    :data:`MAX_MONTHS` months.

    Attributes
    ----------
    months : list of datetime.date
        First day of each modelled month; ``month_edges`` adds the end.
    exposure_claims : ndarray (n_claims, n_months)
        Days of each month inside each claim's period (clipped at the start).
    exposure_as_of : ndarray (n_months,)
        Days of each month in ``[start, as_of]``.
    exposure_edges : ndarray (n_months + 1, n_months)
        Days of each month before each month edge (cumulative curve).

    Raises
    ------
    InputError
        An as-of date or horizon that is not a date, before the start, or
        past :data:`MAX_MONTHS` months from it; a claim whose period ends
        before the start or past :data:`MAX_MONTHS` months from it. Each is
        named by the ledger's file, the claim's line and the field.
    """

    def __init__(self, claims: pd.DataFrame, priors: PriorSet, as_of, horizon=None):
        self.start = dt.date.fromisoformat(priors.start_date)
        self.as_of = _input_date(claims, "as_of", as_of)
        extra = [_input_date(claims, "horizon", horizon)] if horizon is not None else []
        _check_dates(claims, self.start, self.as_of, extra[0] if extra else None)
        last = max([self.as_of, *extra, *claims["period_end"], *claims["date_said"]])
        self.months = []
        m = self.start.replace(day=1)
        while m <= last:
            self.months.append(m)
            m = next_month(m)
        self.month_edges = [*self.months, m]
        self.exposure_as_of = self.exposure(self.as_of + dt.timedelta(days=1))
        rows = []
        for _, row in claims.iterrows():
            end = self.exposure(row["period_end"] + dt.timedelta(days=1))
            # Launches by a date are bounded by everything delivered by then, whenever launched.
            from_start = row["period_start"] is None or row["quantity"] == C.MISSILES_LAUNCHED
            # A period said to start before shipments did counts from their start (class docstring).
            start = 0.0 if from_start else self.exposure(max(row["period_start"], self.start))
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
        """Each modelled month as ``YYYY-MM``."""
        return [m.strftime("%Y-%m") for m in self.months]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _input_date(claims: pd.DataFrame, field: str, value) -> dt.date:
    """An as-of date or horizon as a date; one that is not is an :class:`InputError` naming ``field``."""
    try:
        return _as_date(value)
    except ValueError:
        raise InputError([Problem(claims.attrs.get("source", "<claims>"), field, field, f"'{value}' is not a date (use YYYY-MM-DD)")]) from None


def _check_dates(claims: pd.DataFrame, start: dt.date, as_of: dt.date, horizon: dt.date | None) -> None:
    """Refuse, all at once, the dates a model cannot be built on (see :class:`ModelLayout`).

    Checked before the grid is built, so a year typed 2099 fails at once
    rather than after months of grid are laid out.
    """
    source = claims.attrs.get("source", "<claims>")
    limit = add_months(start, MAX_MONTHS) - dt.timedelta(days=1)
    problems = []
    if as_of < start:
        problems.append(Problem(source, "as_of", "as_of", f"as-of date {as_of} is before the start of shipments {start} (the prior file's start_date)"))
    # An as-of date or horizon no later than the latest claim (the defaults are) is late only
    # because a claim is, and that claim's own problem below names the line to fix.
    latest = max([*claims["date_said"], *claims["period_end"]], default=start)
    for field, day in (("as_of", as_of), ("horizon", horizon)):
        if day is not None and day > limit and day > latest:
            problems.append(
                Problem(source, field, field, f"{day} is more than {MAX_MONTHS} months after the start of shipments {start}: the model would not be built")
            )
    for cid, row in claims.iterrows():
        here = C.claim_locator(claims, cid)
        # The field the period's end came from: period_end, or date_said when the end defaulted to it.
        end_field = "period_end" if row["period_end"] != row["date_said"] else "date_said"
        if row["period_end"] < start:
            problems.append(
                Problem(
                    source,
                    here,
                    end_field,
                    f"the claim's period ends on {row['period_end']}, before the start of shipments {start} (the prior file's start_date): it counts nothing",
                )
            )
        for field in ("date_said", "period_end"):
            if row[field] > limit and (field == "date_said" or end_field == "period_end"):
                problems.append(
                    Problem(source, here, field, f"{row[field]} is more than {MAX_MONTHS} months after the start of shipments {start}: a typo in the year?")
                )
    if problems:
        raise InputError(problems)


def add_months(d: dt.date, months: int) -> dt.date:
    """The first of the month ``months`` months after ``d``'s month (``date.max`` past the calendar's end)."""
    index = d.year * 12 + d.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1) if index // 12 <= dt.MAXYEAR else dt.date.max


def model_layout(claims, priors, as_of=None) -> ModelLayout:
    """The time grid and claim design the model would use (no PyMC involved)."""
    return ModelLayout(claims, priors, default_as_of(claims) if as_of is None else as_of)


def default_as_of(claims: pd.DataFrame) -> dt.date:
    """The default as-of date: the day the latest claim of the ledger was said."""
    return max(claims["date_said"])


def next_month(d: dt.date) -> dt.date:
    """The first day of the month after ``d``'s."""
    return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from the month of ``a`` to the month of ``b``."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def forecast_log_rates(dynamics: str, log_rate_last, log_mean, volatility, persistence, months: int, rng) -> np.ndarray:
    r"""Continue each draw's log rate ``months`` months past its last modelled month.

    The same dynamics as the model (module docstring), draw by draw:
    ``random_walk`` :math:`\log r_{M+k} = \log r_{M+k-1} + \tau z`;
    ``ar1`` :math:`x_{M+k} = \phi x_{M+k-1} + \tau z` about
    :math:`\log \bar r`. Arrays are per draw (shape ``(S,)``); returns
    ``(S, months)``.
    """
    z = rng.standard_normal((np.shape(log_rate_last)[0], months))
    out = np.empty_like(z)
    x = np.asarray(log_rate_last, dtype=float) - (0.0 if dynamics == RANDOM_WALK else log_mean)
    for k in range(months):
        x = (x if dynamics == RANDOM_WALK else persistence * x) + volatility * z[:, k]
        out[:, k] = x
    return out if dynamics == RANDOM_WALK else out + np.asarray(log_mean)[:, None]


def _prior_rv(name, spec, dims=None):
    """A PyMC random variable whose parameters are ``pm.Data`` (sweepable)."""
    return getattr(pm, spec.distribution)(name, **_prior_params(name, spec), dims=dims)


def _prior_params(name, spec) -> dict:
    """The PyMC keyword arguments of a prior entry, each a ``pm.Data`` named by :func:`prior_data_name`."""
    return {_PYMC_PARAM.get((spec.distribution, p), p): pm.Data(prior_data_name(name, p), np.asarray(v, dtype=float)) for p, v in spec.params.items()}


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


# No source's estimates are better than 5% (log-scale sd): as a family's noise
# approaches zero its interval claims become steps and NUTS diverges at their
# edges (the think-tank ranges did, in 9 of 4,000 draws without the floor).
NOISE_FLOOR = 0.05
CLAIM_FORM = "claim_form"
CLAIM_LOG_FIGURE, CLAIM_LOG_LOW, CLAIM_LOG_HIGH = "claim_log_figure", "claim_log_low", "claim_log_high"
CLAIM_WEIGHT = "claim_weight"
EXPOSURE_AS_OF = "exposure_as_of"
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


# Persistence below which the AR(1) filter computes with this value (_ar1_filter).
PHI_FLOOR = 1e-8


def _ar1_filter(phi, z, n_months: int):
    r""":math:`x_m = \sum_{k \le m} \phi^{m-k} z_k`, as :math:`\phi^m \sum_{k \le m} \phi^{-k} z_k` (a cumulative sum).

    :math:`O(M)` work where the lower-triangular matrix of powers was
    :math:`O(M^2)`: about 2.3 microseconds less per flow and gradient
    evaluation (README, Performance). Each term is formed by
    scaling, never by subtracting, so :math:`x` keeps full relative precision
    (1e-16 against the matrix form at :math:`\phi` from 0.999 down to
    1e-7; the derivative in :math:`\phi`, a difference of two sums,
    1e-11 at 0.01 and 2e-7 at 1e-7). :math:`\phi^{-(M-1)}` overflows below
    about 1e-12 for 26 months, so :math:`\phi` enters as at least
    :data:`PHI_FLOOR`: the departures then differ from the exact ones by less
    than 1e-8 of an innovation, and the default prior (Beta, ``priors/default.toml``)
    puts no appreciable mass there.
    """
    log_phi = pt.maximum(pt.log(phi), np.log(PHI_FLOOR))
    k = np.arange(n_months, dtype=float)
    return pt.exp(k * log_phi) * pt.cumsum(pt.exp(-k * log_phi) * z)


def _log_rate_series(prefix: str, P, dynamics: str, n_months: int, innovations: str):
    """Log daily rate per month of one flow (containers or missiles), by ``dynamics``."""
    volatility = _prior_rv(f"{prefix}_rate_volatility", P[f"{prefix}_rate_volatility"])
    if dynamics == RANDOM_WALK:
        mean = _prior_rv(f"{prefix}_rate_mean", P[f"{prefix}_rate_mean"])
        if n_months > 1:
            z = pm.Normal(innovations, 0.0, 1.0, dims=f"{innovations}_step")
            walk = pt.concatenate([pt.zeros(1), pt.cumsum(z)])
        else:
            walk = pt.zeros(1)
        return pt.log(mean) + volatility * (walk - walk.mean())
    # AR(1), non-centred: x_m = tau sum_{k <= m} phi^(m - k) z_k. The first month starts
    # one innovation from the mean, not from the stationary spread tau / sqrt(1 - phi^2):
    # that factor grows without bound as phi -> 1 and made a funnel NUTS diverged in.
    # The sampler moves in the coordinates of LevelCoordinate and PartialCentring (the
    # model is unchanged); the mean comes after the departures x because its coordinate
    # is shifted by their mean.
    phi = _prior_rv(f"{prefix}_rate_persistence", P[f"{prefix}_rate_persistence"])
    z = coupled_rv(innovations, pm.Normal, {"mu": 0.0, "sigma": 1.0}, volatility, PartialCentring(CENTRING_WEIGHT), dims=N.MONTH)
    x = volatility * _ar1_filter(phi, z, n_months)
    spec = P[f"{prefix}_rate_mean"]
    mean = coupled_rv(f"{prefix}_rate_mean", getattr(pm, spec.distribution), _prior_params(f"{prefix}_rate_mean", spec), x.mean(), LevelCoordinate())
    return pt.log(mean) + x


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
    return _CLAIM_LOGLIK_FN(col(d[CLAIM_LOG_FIGURE]), mu, sigma, col(d[CLAIM_LOG_LOW]), col(d[CLAIM_LOG_HIGH]), col(d[CLAIM_FORM]).astype(np.int64))


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
    claims: pd.DataFrame, families: list[str], layout: ModelLayout, capacity: int | None = None, restatements: str = DEFAULT_RESTATEMENTS
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
        CLAIM_CAPACITY_QUANTITY: np.array([C.CAPACITY_QUANTITIES.index(q) if k else 0 for q, k in zip(claims["quantity"], is_capacity)], dtype=np.int64),
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


def build_model(
    claims: pd.DataFrame,
    priors: PriorSet,
    *,
    as_of=None,
    horizon=None,
    dynamics: str = DEFAULT_DYNAMICS,
    capacity: int | None = None,
    restatements: str = DEFAULT_RESTATEMENTS,
) -> pm.Model:
    """Build the reconciliation model (pure: no I/O, no sampling, inputs untouched).

    Parameters
    ----------
    claims : DataFrame
        Validated ledger from :func:`estimator.load_claims`.
    priors : PriorSet
        Validated priors from :func:`estimator.load_priors`.
    as_of : date or str, optional
        Date of the headline quantities (default: the latest claim's date said).
    horizon : date or str, optional
        Model months up to this date too, so that the as-of date (the
        ``pm.Data`` ``exposure_as_of``) can later be moved up to it.
    dynamics : {"ar1", "random_walk"}
        Rate dynamics of both flows (module docstring).
    capacity : int, optional
        Pad the claims to this many with weight-0 copies (identifiers from
        :func:`padding_ids`), so that a compiled model serves any ledger of up
        to ``capacity`` claims over the same months by swapping data. Default:
        no padding.
    restatements : {"excluded", "shared", "independent"}
        How a claim that restates another enters the likelihood (module
        docstring, "Restatements").

    Returns
    -------
    pymc.Model
    """
    if dynamics not in DYNAMICS:
        raise ValueError(f"unknown rate dynamics '{dynamics}'; one of {', '.join(DYNAMICS)}")
    as_of = default_as_of(claims) if as_of is None else as_of
    layout = ModelLayout(claims, priors, as_of, horizon)
    families = priors.model_families(claims["source_family"])
    n_months = len(layout.months)
    claim_ids = list(claims.index) + ([] if capacity is None else padding_ids(claims, capacity))
    heads = C.restatement_groups(claims)[1] if restatements == SHARED else []

    coords = {
        N.CLAIM: claim_ids,
        N.FAMILY: families,
        N.MONTH: np.array(layout.months, dtype="datetime64[ns]"),
        N.MONTH_EDGE: np.array(layout.month_edges, dtype="datetime64[ns]"),
        f"{N.RATE_INNOVATIONS}_step": np.array(layout.months[1:], dtype="datetime64[ns]"),
        f"{N.MISSILE_RATE_INNOVATIONS}_step": np.array(layout.months[1:], dtype="datetime64[ns]"),
        N.CARGO: list(N.CARGO_TYPES),
        **({RESTATEMENT_GROUP: heads} if heads else {}),
    }
    P = priors.parameters
    with pm.Model(coords=coords) as model:
        # Two flows over time, each a positive monthly daily rate with the chosen dynamics.
        rate = pm.Deterministic(N.CONTAINER_RATE, pt.exp(_log_rate_series("container", P, dynamics, n_months, N.RATE_INNOVATIONS)), dims=N.MONTH)
        missile_rate = pm.Deterministic(N.MISSILE_RATE, pt.exp(_log_rate_series("missile", P, dynamics, n_months, N.MISSILE_RATE_INNOVATIONS)), dims=N.MONTH)

        # Cargo: mix and per-container loads (152mm bounded by weight), constant over time.
        mix = _prior_rv(N.CARGO_MIX, P[N.CARGO_MIX], dims=N.CARGO)
        payload = _prior_rv(N.CONTAINER_PAYLOAD_KG, P[N.CONTAINER_PAYLOAD_KG])
        shell_mass = _prior_rv(N.SHELL_MASS_152MM_KG, P[N.SHELL_MASS_152MM_KG])
        fill = _prior_rv(N.FILL_152MM, P[N.FILL_152MM])
        k_max = pm.Deterministic(N.MAX_SHELLS_PER_CONTAINER_152MM, payload / shell_mass)
        k152 = pm.Deterministic(N.SHELLS_PER_CONTAINER_152MM, k_max * fill)
        k122 = _prior_rv(N.ROUNDS_PER_CONTAINER_122MM, P[N.ROUNDS_PER_CONTAINER_122MM])
        p152 = _prior_rv(N.PRICE_152MM_USD, P[N.PRICE_152MM_USD])
        p122 = _prior_rv(N.PRICE_122MM_USD, P[N.PRICE_122MM_USD])
        p_missile = _prior_rv(N.PRICE_MISSILE_USD, P[N.PRICE_MISSILE_USD])

        # Source families, partially pooled: log bias (scope) and log noise of each family
        # are drawn from a population (non-centred), so a family with one claim borrows
        # strength from the others and a family never seen is a draw from the population.
        bias_mean = _prior_rv(N.FAMILY_LOG_BIAS_MEAN, P[N.FAMILY_LOG_BIAS_MEAN])
        bias_spread = _prior_rv(N.FAMILY_LOG_BIAS_SPREAD, P[N.FAMILY_LOG_BIAS_SPREAD])
        noise_mean = _prior_rv(N.FAMILY_LOG_NOISE_MEAN, P[N.FAMILY_LOG_NOISE_MEAN])
        noise_spread = _prior_rv(N.FAMILY_LOG_NOISE_SPREAD, P[N.FAMILY_LOG_NOISE_SPREAD])
        bias_z = pm.Normal(N.FAMILY_BIAS_Z, 0.0, 1.0, dims=N.FAMILY)
        noise_z = pm.Normal(N.FAMILY_NOISE_Z, 0.0, 1.0, dims=N.FAMILY)
        bias = pm.Deterministic(N.FAMILY_BIAS, pt.exp(bias_mean + bias_spread * bias_z), dims=N.FAMILY)
        noise = pm.Deterministic(N.FAMILY_NOISE, NOISE_FLOOR + pt.exp(noise_mean + noise_spread * noise_z), dims=N.FAMILY)
        conv_noise = _prior_rv(N.CONVERSION_NOISE, P[N.CONVERSION_NOISE])

        # Headline quantities as of the as-of date.
        per_container_152 = mix[0] * k152
        per_container_122 = mix[1] * k122
        exposure_as_of = pm.Data(EXPOSURE_AS_OF, layout.exposure_as_of, dims=N.MONTH)
        # Sums of products rather than pt.dot: BLAS rounds differently with its thread
        # count, and sampling amplifies that last bit into different draws; these
        # arrays are tiny, so plain sums cost nothing and make results reproducible.
        containers = pm.Deterministic(N.CONTAINERS, (exposure_as_of * rate).sum())
        missiles = pm.Deterministic(N.MISSILES_DELIVERED, (exposure_as_of * missile_rate).sum())
        shells = pm.Deterministic(N.SHELLS_152MM, containers * per_container_152)
        rounds = pm.Deterministic(N.ROUNDS_122MM, containers * per_container_122)
        pm.Deterministic(N.ARTILLERY_ROUNDS, shells + rounds)
        v152 = pm.Deterministic(N.VALUE_152MM_USD, shells * p152)
        v122 = pm.Deterministic(N.VALUE_122MM_USD, rounds * p122)
        vmis = pm.Deterministic(N.VALUE_MISSILES_USD, missiles * p_missile)
        pm.Deterministic(N.VALUE_USD, v152 + v122 + vmis)
        pm.Deterministic(N.CONTAINERS_AS_REPORTED, containers * bias, dims=N.FAMILY)
        pm.Deterministic(N.CONTAINERS_CUMULATIVE, (layout.exposure_edges * rate).sum(axis=-1), dims=N.MONTH_EDGE)
        pm.Deterministic(N.MISSILES_CUMULATIVE, (layout.exposure_edges * missile_rate).sum(axis=-1), dims=N.MONTH_EDGE)

        # Each claim's expected log figure and noise: a count is (containers over its
        # period) x (its quantity per container) + (missiles over its period) x (its
        # quantity per missile); the mapping names each quantity, so no order can drift.
        design = {
            k: pm.Data(k, v, dims=(N.CLAIM, N.MONTH) if v.ndim == 2 else N.CLAIM)
            for k, v in claim_design(claims, families, layout, capacity, restatements).items()
        }
        exposure_claims = design[CLAIM_EXPOSURE]
        containers_claim = (exposure_claims * rate).sum(axis=-1)
        missiles_claim = (exposure_claims * missile_rate).sum(axis=-1)
        zero, one = pt.zeros(()), pt.ones(())
        factors = {
            C.CONTAINERS: (one, zero),
            C.SHELLS_152MM: (per_container_152, zero),
            C.ROUNDS_122MM: (per_container_122, zero),
            C.ARTILLERY_ROUNDS: (per_container_152 + per_container_122, zero),
            C.MISSILES_DELIVERED: (zero, one),
            C.MISSILES_LAUNCHED: (zero, one),
            C.VALUE_USD: (per_container_152 * p152 + per_container_122 * p122, p_missile),
        }
        assert set(factors) == set(C.QUANTITIES) == set(QUANTITY_ORDER), "every claimable quantity needs its factors"
        q_idx, fam_idx = design[CLAIM_QUANTITY], design[CLAIM_FAMILY]
        is_capacity = pt.neq(design[CLAIM_IS_CAPACITY], 0)
        per_container = pt.stack([factors[q][0] for q in QUANTITY_ORDER])
        per_missile = pt.stack([factors[q][1] for q in QUANTITY_ORDER])
        count_truth = containers_claim * per_container[q_idx] + missiles_claim * per_missile[q_idx]
        capacity_truth = pt.stack([k152, k122])[design[CLAIM_CAPACITY_QUANTITY]]
        mu = pt.switch(is_capacity, pt.log(capacity_truth), pt.log(count_truth) + pt.log(bias)[fam_idx])
        sigma = pt.switch(is_capacity, conv_noise, noise[fam_idx])
        if heads:
            # The claims retelling one estimate share its error (module docstring, "Restatements");
            # the floor keeps the square root's gradient finite where sigma <= RETELLING_NOISE.
            shared = pt.concatenate([pt.zeros(1), pm.Normal(RESTATEMENT_ERROR, 0.0, 1.0, dims=RESTATEMENT_GROUP)])[design[CLAIM_GROUP]]
            in_group = pt.gt(design[CLAIM_GROUP], 0)
            retold = pt.minimum(sigma, RETELLING_NOISE)
            mu = mu + pt.switch(in_group, pt.sqrt(pt.maximum(sigma**2 - retold**2, 1e-12)) * shared, 0.0)
            sigma = pt.switch(in_group, retold, sigma)
        mu = pm.Deterministic(N.CLAIM_LOG_MEAN, mu, dims=N.CLAIM)
        sigma = pm.Deterministic(N.CLAIM_LOG_SD, sigma, dims=N.CLAIM)
        data = {k: pm.Data(k, v, dims=N.CLAIM) for k, v in padded_claim_data(claims, capacity).items()}
        pm.CustomDist(
            N.CLAIMS,
            mu,
            sigma,
            data[CLAIM_LOG_LOW],
            data[CLAIM_LOG_HIGH],
            data[CLAIM_FORM],
            data[CLAIM_WEIGHT] * design[CLAIM_COUNTED],
            logp=claims_logp,
            random=claims_random,
            observed=data[CLAIM_LOG_FIGURE],
            dims=N.CLAIM,
        )
    return model


@dataclass(frozen=True, eq=False)
class ModelRecipe:
    """The plain inputs of :func:`build_model`: how to build the same model again, in any process.

    :func:`estimator._compiled.compile_model` compiles a model in a child process,
    which rebuilds it from its recipe (a PyMC model with a ``CustomDist`` does
    not survive pickling); the caller passes the recipe with the model.
    """

    claims: pd.DataFrame
    priors: PriorSet
    as_of: object = None
    horizon: object = None
    dynamics: str = DEFAULT_DYNAMICS
    capacity: int | None = None
    restatements: str = DEFAULT_RESTATEMENTS

    def build(self) -> pm.Model:
        """The model (:func:`build_model` of these inputs)."""
        return build_model(
            self.claims,
            self.priors,
            as_of=self.as_of,
            horizon=self.horizon,
            dynamics=self.dynamics,
            capacity=self.capacity,
            restatements=self.restatements,
        )


def result_model(result, **kwargs):
    """The PyMC model of a fitted run (its claims, priors, as-of date and dynamics)."""
    m = result.manifest
    options = {"as_of": m.get("as_of"), "dynamics": m.get("dynamics", RANDOM_WALK), "restatements": m.get("restatements", DEFAULT_RESTATEMENTS), **kwargs}
    return build_model(result.claims, result.priors, **options)
