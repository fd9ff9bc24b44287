r"""Sampler coordinates: value transforms that move NUTS, not the model.

A value transform maps a variable to the unconstrained coordinate the
sampler moves in; PyMC adds its log-Jacobian, so the posterior is the same
in any coordinates. The transforms here depend on *other* variables (the
level of a rate series on its departures, innovations on their volatility),
which removes a funnel of the AR(1) rate series of :mod:`estimator.model`
(README, Performance: in the model's own coordinates nutpie needed
target_accept 0.99 and 40-47 gradient evaluations a draw, in these 0.97 and
about 30). A coupled variable is built with :func:`coupled_rv`, which carries
the coupling as an extra, unused parameter: PyMC hands a transform its
variable's inputs, with values or initial values substituted as each graph
needs.
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt
from pymc.logprob.transforms import Transform

__all__ = ["coupled_rv", "LevelCoordinate", "PartialCentring", "CENTRING_WEIGHT"]

# Partial centring of the AR(1) innovations (PartialCentring). Measured on the default
# ledger with nutpie, 1,000 draws + 500 tune (README, Performance): w = 0.25 left no
# divergent transition in 15 runs of 16 at target_accept 0.95 and none in 5 at 0.97,
# every bulk ESS above 890; w = 0.5 mixed the volatilities slowly (bulk ESS 400-600,
# R-hat up to 1.013 at 0.9).
CENTRING_WEIGHT = 0.25


def coupled_rv(name, dist, params: dict, coupling, transform, dims=None):
    """``dist(**params)`` as a random variable that also carries ``coupling`` as its last input.

    The density, draws and initial value are ``dist``'s: ``coupling`` only
    reaches ``transform``, which PyMC hands the variable's own inputs, with
    every random variable in them replaced as the graph at hand needs (by
    values in a log density, by initial values in the initial point). The
    density is given explicitly: derived from ``dist``, PyMC would hand the
    transform the inputs of ``dist``'s own node instead, without the coupling.
    """
    keys = list(params)

    def build(*args):
        *values, _coupling, size = args
        return dist.dist(**dict(zip(keys, values)), size=size)

    def logp(value, *args):
        *values, _coupling = args
        return pm.logp(dist.dist(**dict(zip(keys, values))), value)

    return pm.CustomDist(
        name, *params.values(), coupling, dist=build, logp=logp, transform=transform, default_transform=None, dims=dims
    )


class _Coupled(Transform):
    """A value transform whose map depends on other variables: the coupling is the variable's last parameter (:func:`coupled_rv`)."""

    @staticmethod
    def coupling(inputs):
        # A CustomDist node's inputs are (size, *parameters, rng).
        return inputs[-2]


class LevelCoordinate(_Coupled):
    r"""Sample a positive long-run mean :math:`\bar r` as the level of the modelled months.

    :math:`u = \log \bar r + \bar x`, with :math:`\bar x` the mean departure
    of the log rate over the modelled months (the coupling), so :math:`u` is
    the mean log rate, which the claims identify, while :math:`\log \bar r`
    alone trades off against every innovation. For fixed :math:`\bar x` the
    map is the log transform shifted: :math:`\log |J| = \log \bar r`; the
    joint change of coordinates has no other Jacobian term (:math:`\bar x`
    depends only on the innovations, volatility and persistence).
    """

    name = "level"

    def forward(self, value, *inputs):
        """Sampler coordinate of a rate: its log plus the coupling."""
        return pt.log(value) + self.coupling(inputs)

    def backward(self, value, *inputs):
        """The rate of a sampler coordinate."""
        return pt.exp(value - self.coupling(inputs))

    def log_jac_det(self, value, *inputs):
        """Log-Jacobian of :meth:`backward`: the sampler coordinate less the coupling."""
        return value - self.coupling(inputs)


class PartialCentring(_Coupled):
    r"""Sample standard-normal innovations :math:`z` as :math:`u = \tau^{w} z` (partial non-centring).

    :math:`w = 0` is the non-centred parameterisation, :math:`w = 1` the
    centred one (Papaspiliopoulos, Roberts and Sköld 2007, *Statist. Sci.*
    22, 59-73). The coupling is the volatility :math:`\tau`; :math:`\log
    |J| = -w \log \tau` per element.
    """

    # One word: PyMC recovers a variable's name from its value's by cutting the last "_" part.
    name = "centring"

    def __init__(self, weight: float):
        self.weight = weight

    def forward(self, value, *inputs):
        """Sampler coordinate of an innovation: scaled by the volatility to the power ``weight``."""
        return value * self.coupling(inputs) ** self.weight

    def backward(self, value, *inputs):
        """The innovation of a sampler coordinate."""
        return value * self.coupling(inputs) ** -self.weight

    def log_jac_det(self, value, *inputs):
        """Log-Jacobian of :meth:`backward`: minus ``weight`` times the log volatility, per element."""
        return pt.zeros_like(value) - self.weight * pt.log(self.coupling(inputs))
