"""One quantile rule: numpy's for plain draws, the inverse weighted ECDF for weighted ones."""

import numpy as np
import pytest

from estimator.stats import QUANTILES, quantile


@pytest.mark.parametrize("n", [1, 2, 7, 1001])
def test_weighted_quantiles_are_numpys_inverted_cdf_with_weights(n):
    rng = np.random.default_rng(n)
    x = np.round(rng.lognormal(size=n), 1)  # rounded: ties between draws
    w = rng.random(n)
    q = [0.0, *QUANTILES, 0.3, 1.0]
    np.testing.assert_array_equal(quantile(x, q, w), np.quantile(x, q, weights=w, method="inverted_cdf"))


def test_a_sort_order_given_once_gives_the_same_quantiles():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=500), rng.random(500)
    np.testing.assert_array_equal(quantile(x, QUANTILES, w, order=np.argsort(x)), quantile(x, QUANTILES, w))


def test_equal_weights_give_the_inverse_ecdf_of_the_draws():
    x = np.random.default_rng(0).normal(size=1001)
    np.testing.assert_array_equal(
        quantile(x, QUANTILES, np.ones(x.size)), np.quantile(x, QUANTILES, method="inverted_cdf")
    )


def test_unweighted_draws_use_numpys_default_along_an_axis():
    x = np.random.default_rng(2).normal(size=(400, 3))
    np.testing.assert_array_equal(quantile(x, axis=0), np.quantile(x, QUANTILES, axis=0))
