"""Report mining on the Open-i chest X-ray reports: accuracy and throughput.

Scores the rule-based miner (negation, uncertainty) against a keyword baseline
without negation, per CheXpert label, against the manual MeSH index terms
mapped as in docs/clinical.md; then times both on all reports.

Run: ``.venv/bin/python -m benchmarks.run mining``. The reports are read from
``$RADCYCLE_SHARED/data/iu-xray/iu_xray_reports_dev.tgz`` (default: ``../shared``
beside the project).
"""

from __future__ import annotations

import os
import tarfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from rich.table import Table

from radcycle.clinical.evaluation import (
    evaluate,
    keyword_baseline,
    macro_f1,
    miner_labels,
)
from radcycle.clinical.openi import OpenIReport, parse_openi

ARCHIVE = Path("data/iu-xray/iu_xray_reports_dev.tgz")
MIN_SUPPORT = 30


def shared_root() -> Path:
    env = os.environ.get("RADCYCLE_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def load_reports(archive: Path) -> list[OpenIReport]:
    """Every report XML in the archive, parsed."""
    with tarfile.open(archive) as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.endswith(".xml")),
            key=lambda m: m.name,
        )
        return [parse_openi(tar.extractfile(m).read(), source=m.name) for m in members]  # type: ignore[union-attr]


def _rate(predict: Callable[[Mapping[str, str]], object], reports: list[OpenIReport]) -> float:
    start = time.perf_counter()
    for report in reports:
        predict(report.sections)
    return len(reports) / (time.perf_counter() - start)


def _half(reports: list[OpenIReport], parity: int) -> list[OpenIReport]:
    return [r for r in reports if int(r.report_id.removeprefix("CXR") or 0) % 2 == parity]


def run(workdir: Path) -> Table:
    reports = load_reports(shared_root() / ARCHIVE)
    predictors = {"baseline": keyword_baseline, "miner": miner_labels}
    scores = evaluate(reports, predictors)
    table = Table(title=f"Report mining vs keyword baseline ({len(reports)} Open-i reports, MeSH)")
    table.add_column("label", no_wrap=True)
    for column in ("n+", "baseline P/R/F1", "miner P/R/F1", "F1 ratio"):
        table.add_column(column, justify="right")
    for base, mine in zip(scores["baseline"], scores["miner"], strict=True):
        table.add_row(
            base.label + ("" if base.support >= MIN_SUPPORT else " *"),
            str(base.support),
            f"{base.precision:.2f}/{base.recall:.2f}/{base.f1:.2f}",
            f"{mine.precision:.2f}/{mine.recall:.2f}/{mine.f1:.2f}",
            f"{mine.f1 / base.f1:.2f}" if base.f1 else "-",
        )
    base_macro, mine_macro = macro_f1(scores["baseline"]), macro_f1(scores["miner"])
    table.add_row(
        f"macro-F1 (n+ >= {MIN_SUPPORT})",
        "",
        f"{base_macro:.3f}",
        f"{mine_macro:.3f}",
        f"{mine_macro / base_macro:.2f}",
    )
    counted = {s.label for s in scores["miner"] if s.support >= MIN_SUPPORT}
    for parity, name in ((0, "even"), (1, "odd")):
        half = evaluate(_half(reports, parity), predictors)
        table.add_row(
            f"macro-F1, {name} report ids",
            "",
            f"{macro_f1(half['baseline'], labels=counted):.3f}",
            f"{macro_f1(half['miner'], labels=counted):.3f}",
            "",
        )
    hedged = evaluate(reports, {"u1": lambda s: miner_labels(s, uncertain_positive=True)})
    table.add_row(
        "macro-F1, uncertain counted positive", "", "", f"{macro_f1(hedged['u1']):.3f}", ""
    )
    base_rate, mine_rate = _rate(keyword_baseline, reports), _rate(miner_labels, reports)
    table.add_row(
        "throughput (reports/s, 1 core)",
        "",
        f"{base_rate:.0f}",
        f"{mine_rate:.0f}",
        f"{mine_rate / base_rate:.2f}",
    )
    table.caption = "* fewer than 30 positives: shown, not in macro-F1. Uncertain = negative."
    return table
