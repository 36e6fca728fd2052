"""The learned click-to-segment model as a federated :class:`~radcycle.fl.federation.Learner`.

One site's learner reads only its own folder, and trains the very network and
augmentation of centralised training (:mod:`radcycle.models.training`: the
same patches around simulated clicks, flips, rotation, scaling, intensity
changes, noise and blur, corrective clicks) a few steps per round from the
global weights, its learning rate on the centralised schedule (a cosine to a
tenth) over the run's rounds. FedProx adds ``mu / 2 * ||w - w_global||^2`` to
the loss.

The federated model is then written as the centralised one is: ONNX weights,
a registry entry whose ``training`` says "trained federated" with its sites,
rounds and DP budget, and the model card made from that entry.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.errors import InputError
from radcycle.io import read_image
from radcycle.io.output import OutputRules, atomic_output
from radcycle.models.card import model_card
from radcycle.models.encoding import encode
from radcycle.models.protocol import InputContract, ModelSpec
from radcycle.models.registry import sha256_of
from radcycle.models.training import (
    DEFAULT_CONTRACT,
    Case,
    TrainingSettings,
    build_network,
    correct_with_clicks,
    export_onnx,
    learning_rate,
    load_sarcoma_cases,
    outside_click,
    sample_patch,
)

__all__ = ["SegmenterLearner", "cv_metrics", "initial_weights", "network_from", "write_model"]

Arrays = list[npt.NDArray[np.float32]]


def initial_weights(
    contract: InputContract = DEFAULT_CONTRACT,
    settings: TrainingSettings | None = None,
) -> Arrays:
    """The network's starting weights (seeded by ``settings.random_seed``)."""
    import torch

    s = settings or TrainingSettings()
    torch.manual_seed(s.random_seed)
    net = build_network(contract, s.channels)
    return [v.detach().numpy().astype(np.float32).copy() for v in net.state_dict().values()]


def network_from(
    weights: Sequence[npt.NDArray[np.float32]],
    contract: InputContract = DEFAULT_CONTRACT,
    settings: TrainingSettings | None = None,
) -> Any:
    """The network holding ``weights`` (in eval mode)."""
    import torch

    s = settings or TrainingSettings()
    net = build_network(contract, s.channels)
    keys = list(net.state_dict())
    if len(keys) != len(weights):
        raise InputError(f"{len(weights)} arrays for a network of {len(keys)}")
    net.load_state_dict(
        {k: torch.from_numpy(np.array(w)) for k, w in zip(keys, weights, strict=True)}
    )
    net.eval()
    return net


class SegmenterLearner:
    """One site's learner: its own cases, the centralised network and augmentation.

    Args:
        site: the site's folder (``STS_xxx/{CT,MR_T1,PET}_{image,mask}.nii.gz``).
        contract: the model's input contract.
        settings: the centralised training's settings (batch, learning rate,
            channels, corrective and negative shares, seed, threads).
        cases: the site's cases already read (else read from ``site``).

    Raises:
        InputError: the site holds no series with a lesion.
    """

    def __init__(
        self,
        site: Path,
        contract: InputContract = DEFAULT_CONTRACT,
        settings: TrainingSettings | None = None,
        cases: Sequence[Case] | None = None,
    ) -> None:
        import torch

        self.settings = settings or TrainingSettings()
        self.contract = contract
        loaded = (
            list(cases) if cases is not None else load_sarcoma_cases(site, read_image, contract)
        )
        usable = [c for c in loaded if c.mask.any() and c.modality in contract.modalities]
        if not usable:
            raise InputError("the site holds no series with a lesion", path=site)
        self.by_modality: dict[str, list[Case]] = {}
        for case in usable:
            self.by_modality.setdefault(case.modality, []).append(case)
        torch.set_num_threads(self.settings.threads)
        torch.manual_seed(self.settings.random_seed)
        self.rng = np.random.default_rng(self.settings.random_seed)
        self.net = build_network(contract, self.settings.channels)
        self.series = len(usable)

    def get_weights(self) -> Arrays:
        return [
            v.detach().numpy().astype(np.float32).copy() for v in self.net.state_dict().values()
        ]

    def set_weights(self, weights: Sequence[npt.NDArray[np.float32]]) -> None:
        import torch

        keys = list(self.net.state_dict())
        state = {
            k: torch.from_numpy(np.array(w, np.float32)) for k, w in zip(keys, weights, strict=True)
        }
        self.net.load_state_dict(state)

    def fit(
        self, steps: int, proximal_mu: float, first_step: int = 0, total_steps: int = 0
    ) -> tuple[int, float]:
        """``steps`` steps of the centralised training's loop from the current weights,
        its learning rate following the centralised schedule over the run's
        ``total_steps`` from ``first_step`` (the round's place in the run)."""
        import torch
        from monai.losses.dice import DiceCELoss

        s = self.settings
        run = replace(s, steps=max(total_steps, first_step + steps), time_limit_s=math.inf)
        optimiser = torch.optim.AdamW(
            self.net.parameters(), lr=learning_rate(run, first_step, 0.0), weight_decay=1e-4
        )
        loss_fn = DiceCELoss(sigmoid=True)
        anchor = [p.detach().clone() for p in self.net.parameters()]
        modalities = sorted(self.by_modality)
        losses: list[float] = []
        for _ in range(steps):
            samples: list[Any] = []
            while len(samples) < s.batch:
                pool = self.by_modality[modalities[int(self.rng.integers(len(modalities)))]]
                sample = sample_patch(
                    pool[int(self.rng.integers(len(pool)))], self.contract, self.rng
                )
                if sample is None:
                    continue
                if self.rng.random() < s.negative_share:
                    extra = outside_click(sample.mask, self.rng, self.contract.spacing_mm)
                    if extra is not None:
                        sample.negative.append(extra)
                samples.append(sample)
            if self.rng.random() < s.corrective_share:
                correct_with_clicks(self.net, samples, self.contract)
            x = torch.from_numpy(
                np.stack(
                    [
                        encode(t.image, t.positive, t.negative, t.modality, self.contract)
                        for t in samples
                    ]
                )
            )
            y = torch.from_numpy(np.stack([t.mask[None] for t in samples]).astype(np.float32))
            self.net.train()
            optimiser.zero_grad()
            loss = loss_fn(self.net(x), y)
            if proximal_mu > 0:
                drift = sum(
                    torch.sum((p - a) ** 2)
                    for p, a in zip(self.net.parameters(), anchor, strict=True)
                )
                loss = loss + proximal_mu / 2.0 * drift
            loss.backward()
            optimiser.step()
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(run, first_step + len(losses) + 1, 0.0)
            losses.append(float(loss.detach()))
        self.net.eval()
        return steps * s.batch, float(np.mean(losses))


#: The modalities of the cross-validation result, as the model card names them.
_CV_MODALITIES = ("CT", "MR", "PT")


def cv_metrics(cv: dict[str, Any], record: dict[str, Any], source: Path) -> dict[str, Any]:
    """The model card's metrics from a cross-validated benchmark result
    (``benchmarks.bench_federated_cv --json``): the arm trained as ``record`` says
    (FedAvg or FedProx, or FedAvg with central DP at the run's epsilon), per
    modality, mean +- SD over the folds, with centralised training as the reference.

    Raises:
        InputError: the result has no summary, or no arm trained that way.
    """
    summary = cv.get("summary")
    if not isinstance(summary, dict):
        raise InputError("not a cross-validated benchmark result (no summary)", path=source)
    dp = record.get("dp")
    if dp is None:
        arm = "FedProx" if record.get("strategy") == "fedprox" else "FedAvg"
    elif dp.get("mode") == "central" and record.get("strategy") == "fedavg":
        budget = float(f"{float(dp['epsilon']):.3g}")
        arm = f"FedAvg central DP eps={budget:g}"
    else:
        arm = ""
    if arm not in summary:
        raise InputError(
            f"the cross-validation has no arm trained as this model ({arm or 'local DP'}); "
            f"it has {', '.join(summary)}",
            path=source,
        )
    row, central = summary[arm], summary.get("centralised", {})

    def pm(stats: dict[str, Any]) -> str:
        return f"{stats['mean']:.3f} ± {stats['sd']:.3f}" if stats.get("n") else "-"

    protocol = (
        f"{arm}, {len(cv.get('fold_results', []))} folds by patient "
        f"(`radcycle fl make-sites --folds {cv.get('folds')}`), {cv.get('steps')} local "
        f"optimiser steps per arm ({cv.get('rounds')} rounds x {cv.get('local_steps')} x 3 "
        f"sites); Dice of one click at the lesion's deepest voxel, mean ± SD over the "
        f"folds. Overall {pm(row['overall'])}; centralised training "
        f"{pm(central.get('overall', {}))}; difference "
        f"{pm(row.get('minus_centralised', {}))}; minus the mean single site "
        f"{pm(row.get('minus_single_mean', {}))}. The classical and off-centre columns "
        "were not measured for the federated model."
    )
    per_modality = {
        m: {
            "learned centre mean": row[m]["mean"],
            "learned centre sd": row[m]["sd"],
            "learned centre n": row[m]["n"],
        }
        for m in _CV_MODALITIES
        if row.get(m, {}).get("n")
    }
    return {"protocol": protocol, "cv": per_modality, "source": str(source)}


def write_model(
    weights: Sequence[npt.NDArray[np.float32]],
    out: Path,
    record: dict[str, Any],
    *,
    metrics: dict[str, Any] | None = None,
    name: str = "click-unet-fl",
    contract: InputContract = DEFAULT_CONTRACT,
    settings: TrainingSettings | None = None,
    rules: OutputRules | None = None,
) -> dict[str, Any]:
    """Write ``out/<name>.onnx``, its registry entry ``out/<name>.json`` (the
    federation's record under ``training``; ``metrics``, e.g. :func:`cv_metrics`, for
    the card) and its card ``out/<name>.md``; the entry."""
    rules = rules or OutputRules()
    onnx_path = out / f"{name}.onnx"
    entry_path = out / f"{name}.json"
    card_path = out / f"{name}.md"
    for target in (onnx_path, entry_path, card_path):
        rules.check(target)
    out.mkdir(parents=True, exist_ok=True)
    net = network_from(weights, contract, settings)
    with atomic_output(onnx_path, rules) as temp:
        export_onnx(net, contract, temp)
    dp = record.get("dp")
    budget = (
        f"DP (epsilon {dp['epsilon']:.2f}, delta {dp['delta']:g}) per site, "
        f"{dp.get('mode', 'local')}"
        if dp
        else "no DP"
    )
    procedure = (
        f"trained federated: sites {', '.join(record['sites'])}; {record['rounds']} rounds of "
        f"{record['local_steps']} local steps, {record['strategy']}"
        + (f" (mu {record['proximal_mu']})" if record.get("proximal_mu") else "")
        + f"; {budget}"
        + ("; SecAgg+" if record.get("secagg") else "")
        + ". Flower; only model updates left the sites."
    )
    spec = ModelSpec(
        name=name,
        version=time.strftime("%Y%m%d", time.gmtime()),
        file=onnx_path.name,
        sha256=sha256_of(onnx_path),
        labels=("lesion",),
        contract=contract,
        training={
            "network": "MONAI 3D U-Net, as the centralised model",
            "data": "the sites' own sarcoma series (CT, T1 MR, FDG PET); each site read only "
            "its own folder",
            "licence": "CC BY 3.0 (the soft-tissue-sarcoma collection)",
            "procedure": procedure,
            "cost": f"{record.get('seconds', '-')} s wall time; bytes per round "
            f"{record.get('bytes_per_round', [])}",
            "command": record.get("command", "radcycle fl simulate"),
            "federation": record,
        },
        metrics=dict(metrics or {}),
    )
    entry = spec.to_dict()
    with atomic_output(entry_path, rules) as temp:
        temp.write_text(json.dumps(entry, indent=2) + "\n")
    with atomic_output(card_path, rules) as temp:
        temp.write_text(model_card(spec))
    return entry
