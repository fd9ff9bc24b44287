"""The model's time grid: months from the start of shipments, and the days of each month a claim or date covers.

:class:`ModelLayout` turns a ledger's periods and an as-of date into exposure
rows (days of each month counted), from which every cumulative quantity is a
dot product with the monthly rates (:mod:`estimator.model`). Dates are
checked here, each bad one named by file, line and field.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from estimator import claims as C
from estimator.errors import InputError, Problem
from estimator.priors import PriorSet

__all__ = [
    "ModelLayout",
    "model_layout",
    "default_as_of",
    "add_months",
    "next_month",
    "months_between",
    "FORECAST_MONTHS",
    "MAX_MONTHS",
]


# How far past the last claim an as-of date or a scored claim may reach.
FORECAST_MONTHS = 24

# The longest time grid a model is built on: twenty years of monthly rates. The
# record spans about two years; a grid of centuries (a year typed 2099 for 2024)
# would take hours to build and sample, so it is refused at once instead.
MAX_MONTHS = 240


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
        raise InputError(
            [Problem(claims.attrs.get("source", "<claims>"), field, field, f"'{value}' is not a date (use YYYY-MM-DD)")]
        ) from None


def _check_dates(claims: pd.DataFrame, start: dt.date, as_of: dt.date, horizon: dt.date | None) -> None:
    """Refuse, all at once, the dates a model cannot be built on (see :class:`ModelLayout`).

    Checked before the grid is built, so a year typed 2099 fails at once
    rather than after months of grid are laid out.
    """
    source = claims.attrs.get("source", "<claims>")
    limit = add_months(start, MAX_MONTHS) - dt.timedelta(days=1)
    problems = []
    if as_of < start:
        problems.append(
            Problem(
                source,
                "as_of",
                "as_of",
                f"as-of date {as_of} is before the start of shipments {start} (the prior file's start_date)",
            )
        )
    # An as-of date or horizon no later than the latest claim (the defaults are) is late only
    # because a claim is, and that claim's own problem below names the line to fix.
    latest = max([*claims["date_said"], *claims["period_end"]], default=start)
    for field, day in (("as_of", as_of), ("horizon", horizon)):
        if day is not None and day > limit and day > latest:
            problems.append(
                Problem(
                    source,
                    field,
                    field,
                    f"{day} is more than {MAX_MONTHS} months after the start of shipments {start}: the model would not be built",
                )
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
                    Problem(
                        source,
                        here,
                        field,
                        f"{row[field]} is more than {MAX_MONTHS} months after the start of shipments {start}: a typo in the year?",
                    )
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
