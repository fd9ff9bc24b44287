"""Names shared by the model, the summaries and the figures.

Variable and dimension names live here once, so code that reads a posterior
never repeats a string literal that the model defines.
"""

from __future__ import annotations

# Dimensions
CLAIM = "claim"
FAMILY = "family"
MONTH = "month"
CARGO = "cargo"
CARGO_TYPES = ("152mm", "122mm", "other")

# Parameters with a prior entry: name -> support the prior must respect.
POSITIVE, UNIT_INTERVAL, SIMPLEX, REAL = "positive", "unit interval", "simplex", "real line"
CONTAINER_RATE_MEAN = "container_rate_mean"
CONTAINER_RATE_VOLATILITY = "container_rate_volatility"
CONTAINER_RATE_PERSISTENCE = "container_rate_persistence"
MISSILE_RATE_MEAN = "missile_rate_mean"
MISSILE_RATE_VOLATILITY = "missile_rate_volatility"
MISSILE_RATE_PERSISTENCE = "missile_rate_persistence"
CARGO_MIX = "cargo_mix"
CONTAINER_PAYLOAD_KG = "container_payload_kg"
SHELL_MASS_152MM_KG = "shell_mass_152mm_kg"
FILL_152MM = "fill_152mm"
ROUNDS_PER_CONTAINER_122MM = "rounds_per_container_122mm"
PRICE_152MM_USD = "price_152mm_usd"
PRICE_122MM_USD = "price_122mm_usd"
PRICE_MISSILE_USD = "price_missile_usd"
CONVERSION_NOISE = "conversion_noise"
# The population source families are drawn from (partial pooling).
FAMILY_LOG_BIAS_MEAN = "family_log_bias_mean"
FAMILY_LOG_BIAS_SPREAD = "family_log_bias_spread"
FAMILY_LOG_NOISE_MEAN = "family_log_noise_mean"
FAMILY_LOG_NOISE_SPREAD = "family_log_noise_spread"

PARAMETERS = {
    CONTAINER_RATE_MEAN: POSITIVE,
    CONTAINER_RATE_VOLATILITY: POSITIVE,
    CONTAINER_RATE_PERSISTENCE: UNIT_INTERVAL,
    MISSILE_RATE_MEAN: POSITIVE,
    MISSILE_RATE_VOLATILITY: POSITIVE,
    MISSILE_RATE_PERSISTENCE: UNIT_INTERVAL,
    CARGO_MIX: SIMPLEX,
    CONTAINER_PAYLOAD_KG: POSITIVE,
    SHELL_MASS_152MM_KG: POSITIVE,
    FILL_152MM: UNIT_INTERVAL,
    ROUNDS_PER_CONTAINER_122MM: POSITIVE,
    PRICE_152MM_USD: POSITIVE,
    PRICE_122MM_USD: POSITIVE,
    PRICE_MISSILE_USD: POSITIVE,
    CONVERSION_NOISE: POSITIVE,
    FAMILY_LOG_BIAS_MEAN: REAL,
    FAMILY_LOG_BIAS_SPREAD: POSITIVE,
    FAMILY_LOG_NOISE_MEAN: REAL,
    FAMILY_LOG_NOISE_SPREAD: POSITIVE,
}
BIAS, NOISE = "bias", "noise"


# Derived quantities (Deterministics)
RATE_INNOVATIONS = "rate_innovations"
CONTAINER_RATE = "container_rate"
MISSILE_RATE_INNOVATIONS = "missile_rate_innovations"
MISSILE_RATE = "missile_rate"
MISSILES_DELIVERED = "missiles_delivered"
MISSILES_CUMULATIVE = "missiles_cumulative"  # cumulative missiles delivered at each month edge
FAMILY_BIAS_Z = "family_bias_z"  # standardised family log biases (non-centred)
FAMILY_NOISE_Z = "family_noise_z"  # standardised family log noises
# Free variables with a fixed N(0, 1) prior and no prior-file entry.
STANDARD_NORMAL = (RATE_INNOVATIONS, MISSILE_RATE_INNOVATIONS, FAMILY_BIAS_Z, FAMILY_NOISE_Z)
FAMILY_BIAS = "family_bias"
FAMILY_NOISE = "family_noise"
SHELLS_PER_CONTAINER_152MM = "shells_per_container_152mm"
MAX_SHELLS_PER_CONTAINER_152MM = "max_shells_per_container_152mm"
CONTAINERS = "containers"
SHELLS_152MM = "shells_152mm"
ROUNDS_122MM = "rounds_122mm"
ARTILLERY_ROUNDS = "artillery_rounds"
VALUE_USD = "value_usd"
VALUE_152MM_USD = "value_152mm_usd"
VALUE_122MM_USD = "value_122mm_usd"
VALUE_MISSILES_USD = "value_missiles_usd"
# Quantities in US dollars: the total value and its parts.
MONEY_QUANTITIES = (VALUE_USD, VALUE_152MM_USD, VALUE_122MM_USD, VALUE_MISSILES_USD)
# Claims may count launches; the model treats them as a lower bound on missiles delivered.
MISSILES_LAUNCHED = "missiles_launched"
CLAIM_LOG_MEAN = "claim_log_mean"
CLAIM_LOG_SD = "claim_log_sd"
CLAIMS = "claims"  # the observed node: one log-likelihood term per claim
CONTAINERS_AS_REPORTED = "containers_as_reported"  # containers x family bias, per family
CONTAINERS_CUMULATIVE = "containers_cumulative"  # cumulative containers at each month edge
MONTH_EDGE = "month_edge"  # dimension of CONTAINERS_CUMULATIVE: first day of each month, and the end

# Headline quantities as of the as-of date, in the order the summary prints them.
HEADLINE = (
    CONTAINERS,
    SHELLS_152MM,
    ROUNDS_122MM,
    ARTILLERY_ROUNDS,
    MISSILES_DELIVERED,
    SHELLS_PER_CONTAINER_152MM,
    ROUNDS_PER_CONTAINER_122MM,
    VALUE_USD,
    VALUE_152MM_USD,
    VALUE_122MM_USD,
    VALUE_MISSILES_USD,
)

LABELS = {
    CONTAINERS: "Containers shipped (modelled total)",
    SHELLS_152MM: "152mm shells delivered",
    ROUNDS_122MM: "122mm rounds delivered",
    ARTILLERY_ROUNDS: "Artillery rounds delivered (152mm + 122mm)",
    MISSILES_DELIVERED: "Ballistic missiles delivered",
    SHELLS_PER_CONTAINER_152MM: "152mm shells per container",
    ROUNDS_PER_CONTAINER_122MM: "122mm rounds per container",
    VALUE_USD: "Value of deliveries (USD)",
    VALUE_152MM_USD: "  of which 152mm shells (USD)",
    VALUE_122MM_USD: "  of which 122mm rounds (USD)",
    VALUE_MISSILES_USD: "  of which missiles (USD)",
}

# The intelligence threshold the summary reports P(shells > threshold) for.
SHELLS_THRESHOLD = 2_000_000


# Headline quantities whose movement the influence analysis reports (estimator.sensitivity).
INFLUENCE_QUANTITIES = (SHELLS_152MM, CONTAINERS, VALUE_USD)
# How a left-out claim's posterior was obtained (estimator.sensitivity; its figures label them).
PSIS, REFIT, FLAT = "psis", "refit", "flat likelihood"
# The variance share no single factor of the value explains (estimator.sensitivity).
REMAINDER = "no single factor (interactions, dependence)"
# The quantities simulation-based calibration ranks (estimator.validation).
SBC_QUANTITIES = HEADLINE
# The dimensions of posterior draws, in the order every flattened array uses.
SAMPLE_DIMS = ("chain", "draw")
