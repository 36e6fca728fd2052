"""``radcycle fl make-sites|simulate|server|client``: federated training with Flower."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import force_option, json_option, out_option, random_seed_option

console = Console()
err = Console(stderr=True)

fl_app = typer.Typer(
    help="Federated training of the learned segmenter (Flower): sites, simulation, "
    "server and client processes.",
    no_args_is_help=True,
)


@friendly_errors
def _make_sites(
    source: Path = typer.Argument(
        ..., help="Folder of sarcoma patients (STS_xxx/{CT,MR_T1,PET}_{image,mask}.nii.gz)."
    ),
    out: Path = out_option(
        "Folder to create: held-out/, one folder per site, sites.json.", required=True
    ),
    force: bool = force_option("Here: replace an earlier split (a folder holding sites.json)."),
    random_seed: int = random_seed_option(help="Seed of the draw of patients to sites."),
    as_json: bool = json_option(),
) -> None:
    """Split patients into a held-out set and non-IID sites (sizes, modalities, calibration)."""
    from radcycle.fl.sites import make_sites

    report = make_sites(source, out, random_seed=random_seed, force=force)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    for name, patients in report.sites.items():
        calib = report.calibration[name]
        extra = f"  calibration {calib}" if calib else ""
        console.print(
            f"{name:9s} {len(patients):2d} patients  {'+'.join(report.modalities[name])}{extra}"
        )
    console.print(f"sites in {out}")


def register(app: typer.Typer) -> None:
    """Add ``radcycle fl ...`` to ``app``."""
    fl_app.command("make-sites")(_make_sites)
    app.add_typer(fl_app, name="fl")
