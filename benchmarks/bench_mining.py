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
    LabelScore,
    keyword_baseline,
    macro_f1,
    mesh_labels,
    miner_labels,
    negation_window_baseline,
    score,
    usable,
)
from radcycle.clinical.nlp import CHEXPERT_LABELS, mine_sections
from radcycle.clinical.openi import OpenIReport, parse_openi

ARCHIVE = Path("data/iu-xray/iu_xray_reports_dev.tgz")
MIN_SUPPORT = 30


def shared_root() -> Path:
    env = os.environ.get("RADCYCLE_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def load_reports(archive: Path) -> list[OpenIReport]:
    """Every report XML in the archive, parsed, in name order.

    Members are read in archive order: seeking back in a gzip stream would
    decompress it again from the start.
    """
    parsed: list[tuple[str, OpenIReport]] = []
    with tarfile.open(archive) as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.name.endswith(".xml") else None
            if handle is not None:
                parsed.append((member.name, parse_openi(handle.read(), source=member.name)))
    return [report for _name, report in sorted(parsed, key=lambda item: item[0])]


def _rate(predict: Callable[[Mapping[str, str]], object], reports: list[OpenIReport]) -> float:
    start = time.perf_counter()
    for report in reports:
        predict(report.sections)
    return len(reports) / (time.perf_counter() - start)


def _even(report: OpenIReport) -> bool:
    return int(report.report_id.removeprefix("CXR") or 0) % 2 == 0


def _prf(score: LabelScore) -> str:
    """Precision, recall and F1 in percent: "96/95/96"."""
    return "/".join(f"{100 * v:.0f}" for v in (score.precision, score.recall, score.f1))


def _predictions(reports: list[OpenIReport]) -> dict[str, list[frozenset[str]]]:
    """Keyword baseline, negation-window baseline, miner (uncertain = negative, and positive)."""
    out: dict[str, list[frozenset[str]]] = {
        "baseline": [],
        "window": [],
        "miner": [],
        "miner_u1": [],
    }
    for report in reports:
        assertions = mine_sections(report.sections).labels()
        out["baseline"].append(keyword_baseline(report.sections))
        out["window"].append(negation_window_baseline(report.sections))
        for name, accepted in (("miner", (True,)), ("miner_u1", (True, "uncertain"))):
            labels = {k for k, v in assertions.items() if k in CHEXPERT_LABELS and v in accepted}
            out[name].append(frozenset(labels))
    return out


def run(workdir: Path) -> Table:
    reports = load_reports(shared_root() / ARCHIVE)
    kept = [r for r in reports if usable(r)]
    truth = [mesh_labels(r.mesh) for r in kept]
    predicted = _predictions(kept)
    scores = {name: score(truth, p) for name, p in predicted.items()}
    counted = {s.label for s in scores["miner"] if s.support >= MIN_SUPPORT}
    table = Table(
        title=f"Report mining vs keyword baseline: {len(kept)} of {len(reports)} Open-i reports",
        caption="P/R/F1 (%) against MeSH tags; window: keywords + 5-word negation window "
        "(F1 %); * under 30 positives (not in macro-F1); miner: uncertain = negative.",
        show_edge=False,
    )
    table.add_column("label", no_wrap=True)
    for column in ("n+", "keyword", "window", "miner", "F1 x"):  # "F1 x": miner / keyword
        table.add_column(column, justify="right")
    rows = zip(scores["baseline"], scores["window"], scores["miner"], strict=True)
    for base, window, mine in rows:
        table.add_row(
            base.label + ("" if base.label in counted else " *"),
            str(base.support),
            _prf(base),
            f"{100 * window.f1:.0f}",
            _prf(mine),
            f"{mine.f1 / base.f1:.2f}" if base.f1 else "-",
        )
    macro = {name: macro_f1(scores[name]) for name in ("baseline", "window", "miner")}
    table.add_row(
        "macro-F1",
        "",
        f"{macro['baseline']:.3f}",
        f"{macro['window']:.3f}",
        f"{macro['miner']:.3f}",
        f"{macro['miner'] / macro['baseline']:.2f}",
    )
    for parity, name in ((True, "even"), (False, "odd")):
        index = [i for i, r in enumerate(kept) if _even(r) == parity]
        half = {
            k: macro_f1(score([truth[i] for i in index], [p[i] for i in index]), labels=counted)
            for k, p in predicted.items()
        }
        table.add_row(
            f"macro-F1, {name} ids",
            "",
            f"{half['baseline']:.3f}",
            f"{half['window']:.3f}",
            f"{half['miner']:.3f}",
            "",
        )
    table.add_row("macro-F1, unc. = pos.", "", "", "", f"{macro_f1(scores['miner_u1']):.3f}", "")
    rates = {
        name: _rate(predict, reports)
        for name, predict in (
            ("baseline", keyword_baseline),
            ("window", negation_window_baseline),
            ("miner", miner_labels),
        )
    }
    table.add_row(
        "reports/s, 1 core",
        "",
        f"{rates['baseline']:.0f}",
        f"{rates['window']:.0f}",
        f"{rates['miner']:.0f}",
        f"{rates['miner'] / rates['baseline']:.2f}",
    )
    return table
