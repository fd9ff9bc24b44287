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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from estimator import claims as C
from estimator import names as N
from estimator.coordinates import CENTRING_WEIGHT, LevelCoordinate, PartialCentring, coupled_rv
from estimator.likelihood import (
    CLAIM_CAPACITY_QUANTITY,
    CLAIM_COUNTED,
    CLAIM_EXPOSURE,
    CLAIM_FAMILY,
    CLAIM_FORM,
    CLAIM_GROUP,
    CLAIM_IS_CAPACITY,
    CLAIM_LOG_FIGURE,
    CLAIM_LOG_HIGH,
    CLAIM_LOG_LOW,
    CLAIM_QUANTITY,
    CLAIM_WEIGHT,
    DEFAULT_RESTATEMENTS,
    QUANTITY_ORDER,
    RESTATEMENT_ERROR,
    RESTATEMENT_GROUP,
    SHARED,
    claim_design,
    claims_logp,
    claims_random,
    padded_claim_data,
    padding_ids,
)
from estimator.priors import PriorSet
from estimator.timeline import ModelLayout, default_as_of

__all__ = [
    "build_model",
    "ModelRecipe",
    "result_model",
    "prior_data_name",
    "forecast_log_rates",
    "DYNAMICS",
    "DEFAULT_DYNAMICS",
    "AR1",
    "RANDOM_WALK",
]

RANDOM_WALK, AR1 = "random_walk", "ar1"
DYNAMICS = (AR1, RANDOM_WALK)
# Chosen by the leave-future-out backtest (README, "Through time").
DEFAULT_DYNAMICS = AR1
# The part of a restatement's error not shared with the estimate it retells: the
# rounding of a retelling (6,700 told as "about 7,000" moves 4%), at the noise floor.
RETELLING_NOISE = 0.05

# PreliZ and PyMC agree on parameter names but for these.
_PYMC_PARAM = {("Dirichlet", "alpha"): "a"}


def prior_data_name(var: str, param: str) -> str:
    """Name of the ``pm.Data`` holding one prior parameter, e.g. ``fill_152mm__alpha``."""
    return f"{var}__{param}"


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
    return {
        _PYMC_PARAM.get((spec.distribution, p), p): pm.Data(prior_data_name(name, p), np.asarray(v, dtype=float))
        for p, v in spec.params.items()
    }


# No source's estimates are better than 5% (log-scale sd): as a family's noise
# approaches zero its interval claims become steps and NUTS diverges at their
# edges (the think-tank ranges did, in 9 of 4,000 draws without the floor).
NOISE_FLOOR = 0.05
EXPOSURE_AS_OF = "exposure_as_of"


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
    z = coupled_rv(
        innovations, pm.Normal, {"mu": 0.0, "sigma": 1.0}, volatility, PartialCentring(CENTRING_WEIGHT), dims=N.MONTH
    )
    x = volatility * _ar1_filter(phi, z, n_months)
    spec = P[f"{prefix}_rate_mean"]
    mean = coupled_rv(
        f"{prefix}_rate_mean",
        getattr(pm, spec.distribution),
        _prior_params(f"{prefix}_rate_mean", spec),
        x.mean(),
        LevelCoordinate(),
    )
    return pt.log(mean) + x


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
        rate = pm.Deterministic(
            N.CONTAINER_RATE,
            pt.exp(_log_rate_series("container", P, dynamics, n_months, N.RATE_INNOVATIONS)),
            dims=N.MONTH,
        )
        missile_rate = pm.Deterministic(
            N.MISSILE_RATE,
            pt.exp(_log_rate_series("missile", P, dynamics, n_months, N.MISSILE_RATE_INNOVATIONS)),
            dims=N.MONTH,
        )

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
        noise = pm.Deterministic(
            N.FAMILY_NOISE, NOISE_FLOOR + pt.exp(noise_mean + noise_spread * noise_z), dims=N.FAMILY
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
            shared = pt.concatenate([pt.zeros(1), pm.Normal(RESTATEMENT_ERROR, 0.0, 1.0, dims=RESTATEMENT_GROUP)])[
                design[CLAIM_GROUP]
            ]
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
    options = {
        "as_of": m.get("as_of"),
        "dynamics": m.get("dynamics", RANDOM_WALK),
        "restatements": m.get("restatements", DEFAULT_RESTATEMENTS),
        **kwargs,
    }
    return build_model(result.claims, result.priors, **options)
