"""``estimator sensitivity``: how much a saved run depends on its inputs."""

from __future__ import annotations

import argparse

import pandas as pd

from estimator import influence as I
from estimator import names as N
from estimator import sensitivity as S
from estimator.cli.common import add_figure_arguments, command, figure_formats, save_figure, saved_run_and_out, use_agg


def run(args) -> int:
    """Print the sensitivity tables; write them as CSV and the two figures in each --format."""
    use_agg()
    from estimator.figures import plot_influence_tornado, plot_variance_shares  # noqa: PLC0415 - matplotlib, only when drawing

    formats = figure_formats(args)
    result, path, out = saved_run_and_out(args)
    method = "auto" if args.refit else I.PSIS
    source = f"Source: estimator sensitivity, run {result.manifest.get('input_hash')} ({path.name})"

    psense = S.sensitivity_table(result)
    pool = {"workers": args.workers, "scheduler": args.scheduler, "progress": not args.quiet}
    influence = I.influence_table(result, method=method, **pool)
    recon = I.reconciliation_table(result, method=method, **pool)
    shares = S.value_variance_shares(result)
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        20,
        "display.max_colwidth",
        110,
        "display.float_format",
        "{:,.3g}".format,
    ):
        print("Power-scaling sensitivity (>= 0.05 flags a component):")
        print(psense[["prior", "likelihood", "in_words"]].to_string())
        print("\nInfluence: shift of each median when a claim or family is left out (%):")
        wide = influence.pivot_table(
            index=["level", "left_out"], columns="quantity", values="shift_median_pct", sort=False
        )
        meta = influence.drop_duplicates(["level", "left_out"]).set_index(["level", "left_out"])[
            ["method", "khat", "reliable"]
        ]
        print(wide.join(meta).to_string())
        print(f"\nReconciliation of {N.LABELS[N.SHELLS_152MM]}:")
        print(recon.drop(columns="claims").to_string())
        print(recon.attrs["conflict"])
        print("\nShare of the posterior variance of value:")
        print(shares.to_string())
    if not args.refit and not influence["reliable"].all():
        print(
            "\nSome PSIS rows have k-hat above the threshold (reliable = False); rerun with --refit for exact refits."
        )

    psense.to_csv(out / "sensitivity_psense.csv")
    influence.to_csv(out / "sensitivity_influence.csv", index=False)
    recon.to_csv(out / "sensitivity_reconciliation.csv")
    shares.to_csv(out / "sensitivity_variance_shares.csv")
    # These figures place their source note themselves: a tight bounding box would crop its margin.
    for name, (fig, _) in {
        "sensitivity_tornado": plot_influence_tornado(influence, source=source),
        "sensitivity_variance_shares": plot_variance_shares(shares, source=source),
    }.items():
        save_figure(fig, out, name, formats, args.dpi, tight=False)
    print(
        f"Wrote sensitivity_*.csv and the figures sensitivity_tornado, sensitivity_variance_shares ({', '.join(formats)}) to {out}"
    )
    return 0


def register(sub, common) -> None:
    """Add ``estimator sensitivity`` to the subcommands."""
    v = command(
        sub,
        "sensitivity",
        "prior/likelihood sensitivity, claim influence, reconciliation and variance shares of a run",
        "How much a saved run depends on its inputs: power-scaling sensitivity of prior and likelihood,\n"
        "the shift of each headline median when a claim or a source family is left out, shells from the\n"
        "count x capacity chain against the direct estimates, and the sources of the value's variance.",
        """
        estimator sensitivity runs/default/result.nc --out runs/default/sensitivity
        estimator sensitivity runs/default/result.nc --no-refit --format svg
        estimator sensitivity runs/default/result.nc --workers 2
        """,
        common,
    )
    v.add_argument("result", metavar="RESULT", help="result.nc written by 'estimator fit'")
    v.add_argument("--out", default="estimator-sensitivity", help="output folder (default ./estimator-sensitivity)")
    v.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refit exactly where PSIS k-hat is too high (default); --no-refit reweights only and flags those rows",
    )
    v.add_argument("--workers", type=int, default=1, help="local worker processes for the exact refits (default 1)")
    v.add_argument(
        "--scheduler", default=None, help="address of a Dask distributed scheduler (instead of local workers)"
    )
    add_figure_arguments(v, dpi=150)
    v.set_defaults(func=run)
