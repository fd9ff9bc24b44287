"""What the figures of a run share: its draws, its as-of date and source note, and claims as text."""

from __future__ import annotations

import datetime as dt

import xarray as xr

from estimator import claims as C
from estimator.figures.style import label_number
from estimator.formatting import vintage_label

__all__ = [
    "PRIOR",
    "POSTERIOR",
    "BANDS",
    "CLAIM_GID",
    "QUALIFIER_SYMBOL",
    "QUANTITY_LABELS",
    "samples",
    "as_of",
    "source_note",
    "claim_text",
]

PRIOR, POSTERIOR = "prior", "posterior"
BANDS = (0.05, 0.25, 0.5, 0.75, 0.95)  # median, and the 50% and 90% bands
CLAIM_GID = "claim:"  # gid prefix of the artist drawing each claim
QUALIFIER_SYMBOL = {C.ABOUT: "≈", C.MORE_THAN: ">", C.AT_LEAST: "≥", C.UP_TO: "≤", C.COULD_HOLD: "≤"}
QUANTITY_LABELS = {
    C.CONTAINERS: "containers",
    C.SHELLS_152MM: "152mm shells",
    C.ROUNDS_122MM: "122mm rounds",
    C.ARTILLERY_ROUNDS: "artillery rounds",
    C.MISSILES_DELIVERED: "missiles delivered",
    C.MISSILES_LAUNCHED: "missiles launched",
    C.VALUE_USD: "value (USD)",
}


def samples(ds: xr.Dataset, var: str) -> xr.DataArray:
    """A variable with chain and draw stacked into one ``sample`` dimension."""
    da = ds[var]
    return da.stack(sample=[d for d in ("chain", "draw") if d in da.dims])


def as_of(result) -> dt.date:
    """The date the run's headline quantities are as of."""
    return dt.date.fromisoformat(str(result.manifest["as_of"]))


def source_note(result) -> str:
    """One-line source note: the claims behind the run and the run's identity."""
    cl = result.claims
    first, last = min(cl["date_said"]), max(cl["date_said"])
    m = result.manifest

    return (
        f"Source: {len(cl)} public claims ({first:%d %b %Y} – {last:%d %b %Y}) reconciled by a Bayesian model, {vintage_label(m)};\n"
        f"estimator {m.get('versions', {}).get('estimator', '?')}, {m.get('chains')} chains × {m.get('draws')} draws, "
        f"seed {m.get('seed')}, input hash {m.get('input_hash')}."
    )


def claim_text(row) -> str:
    """A claim in a few words: "≈ 5,000 containers", "6,700 containers could hold ≤ 3 M 152mm shells"."""
    q, lo, hi = row["qualifier"], row["figure"], row["figure_high"]
    money = row["quantity"] == C.VALUE_USD
    what = QUANTITY_LABELS[row["quantity"]]
    if row["kind"] == C.CAPACITY:
        amount = (
            f"{label_number(lo)}–{label_number(hi)}" if q == C.BETWEEN else f"{QUALIFIER_SYMBOL[q]} {label_number(lo)}"
        )
        return f"{label_number(row['basis_containers'])} containers could hold {amount} {what}"
    if q == C.BETWEEN:
        amount = f"{label_number(lo, money)}–{label_number(hi, money)}"
    else:
        amount = f"{QUALIFIER_SYMBOL[q]} {label_number(lo, money)}"
    return amount if money else f"{amount} {what}"
