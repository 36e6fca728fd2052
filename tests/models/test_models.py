"""The learned click-to-segment model: registry and sha256, encoding, training for a
few steps on tiny data, ONNX export with torch/ONNX parity, inference, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError, InputError
from radcycle.io import write_image
from radcycle.models.card import model_card
from radcycle.models.encoding import click_maps, from_model_grid, normalise, to_model_grid
from radcycle.models.interactive import LearnedSegmenter, OnnxModel
from radcycle.models.protocol import InputContract, ModelSpec
from radcycle.models.registry import find_spec, load_registry, sha256_of, verified_weights

torch = pytest.importorskip("torch", reason="the models extra (torch) is not installed")
pytest.importorskip("onnxruntime", reason="the models extra (onnxruntime) is not installed")

from radcycle.models import training  # noqa: E402

runner = CliRunner()

TINY = InputContract(
    modalities=("CT", "MR", "PT"),
    spacing_mm=4.0,
    patch=16,
    normalisation=training.DEFAULT_CONTRACT.normalisation,
    click_sigma_mm=6.0,
)


def _sphere_volume(modality: str, seed: int, radius_mm: float = 14.0) -> tuple[Volume, Volume]:
    """A bright sphere in a noisy background on a 2 x 2 x 3 mm grid, and its mask."""
    rng = np.random.default_rng(seed)
    shape = (24, 40, 40)
    spacing = (2.0, 2.0, 3.0)  # x, y, z
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    d = np.sqrt(((k - 12) * 3.0) ** 2 + ((j - 20) * 2.0) ** 2 + ((i - 20) * 2.0) ** 2)
    mask = d <= radius_mm
    base = {"CT": (40.0, 120.0, 15.0), "MR": (300.0, 600.0, 30.0), "PT": (1.0, 8.0, 0.2)}
    bg, fg, noise = base[modality]
    arr = np.where(mask, fg, bg) + rng.normal(0, noise, shape)
    if modality == "PT":
        arr = np.clip(arr, 0, None)
    geo = Geometry((0.0, 0.0, 0.0), spacing)
    return Volume(arr, geo, {"modality": modality}), Volume(mask.astype(np.uint8), geo, {})


def _cases(contract: InputContract) -> list[training.Case]:
    cases = []
    for n, modality in enumerate(("CT", "MR", "PT")):
        vol, mask = _sphere_volume(modality, n)
        spacing = (3.0, 2.0, 2.0)
        image = normalise(
            to_model_grid(vol.array, spacing, contract.spacing_mm), modality, contract
        )
        ref = to_model_grid(mask.array.astype(np.float32), spacing, contract.spacing_mm)
        ref = ref >= 0.5
        cases.append(training.Case(f"P{n}", modality, image, ref))
    return cases


@pytest.fixture(scope="module")
def tiny_net() -> object:
    settings = training.TrainingSettings(steps=3, batch=2, channels=(4, 8), random_seed=0)
    net = training.train(_cases(TINY), TINY, settings)
    assert len(settings.log) == 3
    assert all(np.isfinite(x["loss"]) for x in settings.log)
    return net


def _spec(path: Path, contract: InputContract = TINY) -> ModelSpec:
    return ModelSpec("tiny", "0", path.name, sha256_of(path), ("lesion",), contract)


def test_training_repeats_with_its_seed() -> None:
    a = training.TrainingSettings(steps=2, batch=2, channels=(4, 8), random_seed=3)
    b = training.TrainingSettings(steps=2, batch=2, channels=(4, 8), random_seed=3)
    net_a = training.train(_cases(TINY), TINY, a)
    net_b = training.train(_cases(TINY), TINY, b)
    for p, q in zip(net_a.parameters(), net_b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert [x["loss"] for x in a.log] == [x["loss"] for x in b.log]


def test_onnx_export_matches_torch_and_serves_outlines(tiny_net: object, tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    training.export_onnx(tiny_net, TINY, path)
    spec = _spec(path)
    onnx_model = OnnxModel(spec, path)
    torch_model = training.TorchModel(tiny_net, spec)
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(3, TINY.channels, 16, 16, 16)).astype(np.float32)
    assert np.abs(onnx_model.predict(batch) - torch_model.predict(batch)).max() < 1e-4
    vol, _ = _sphere_volume("PT", 9)
    got = [
        LearnedSegmenter(m).segment(vol, [(12, 20, 20)], [(12, 20, 38)], "PT").probabilities
        for m in (onnx_model, torch_model)
    ]
    assert got[0].shape == got[1].shape
    assert np.abs(got[0] - got[1]).max() < 1e-4


def test_weights_are_loaded_only_when_their_sha256_matches(tmp_path: Path) -> None:
    path = tmp_path / "w.onnx"
    path.write_bytes(b"not the registry's weights")
    spec = ModelSpec("m", "1", "w.onnx", "0" * 64, ("lesion",), TINY)
    with pytest.raises(InputError, match="do not match the registry's sha256"):
        verified_weights(spec, path)
    with pytest.raises(InputError, match="not found"):
        verified_weights(spec, tmp_path / "missing.onnx")
    with pytest.raises(InputError, match="do not match"):
        OnnxModel(spec, path)
    good = ModelSpec("m", "1", "w.onnx", sha256_of(path), ("lesion",), TINY)
    assert verified_weights(good, path) == path


def test_the_shipped_model_matches_its_registry_entry() -> None:
    spec = find_spec("click-unet")
    assert "click-unet" in {s.name for s in load_registry()}
    # three networks of 2.4 MB in one graph (the seed ensemble): still a small file
    assert verified_weights(spec).stat().st_size < 8_000_000
    assert spec.contract.modalities == ("CT", "MR", "PT")
    with pytest.raises(InputError, match="no model 'nope'"):
        find_spec("nope")


def test_a_modality_the_model_was_not_trained_on_is_refused(tiny_net: object) -> None:
    vol, _ = _sphere_volume("CT", 1)
    model = training.TorchModel(tiny_net, ModelSpec("t", "0", "", "", ("lesion",), TINY))
    with pytest.raises(InputError, match="trained on CT, MR, PT, not US"):
        LearnedSegmenter(model).segment(vol, [(12, 20, 20)], [], "US")
    with pytest.raises(InputError, match="positive click"):
        LearnedSegmenter(model).segment(vol, [], [], "CT")


def test_encoding_round_trip_and_click_maps() -> None:
    values = np.arange(10 * 12 * 14, dtype=np.float32).reshape(10, 12, 14)
    coarse = to_model_grid(values, (3.0, 2.0, 2.0), 4.0)
    back = from_model_grid(coarse, values.shape, (3.0, 2.0, 2.0), 4.0)
    assert back.shape == values.shape
    assert np.abs(back - values).mean() < 0.05 * values.max()
    maps = click_maps((9, 9, 9), [(4, 4, 4)], [(0, 0, 0)], 4.0, 6.0)
    assert maps[0, 4, 4, 4] == 1.0
    assert maps[1, 0, 0, 0] == 1.0
    assert maps[0, 4, 4, 5] == pytest.approx(np.exp(-16.0 / 72.0), rel=1e-5)
    with pytest.raises(InputError, match="not US"):
        normalise(values, "US", TINY)


def test_corrective_clicks_go_to_the_largest_error() -> None:
    truth = np.zeros((20, 20, 20), dtype=bool)
    truth[5:15, 5:15, 5:15] = True
    missed = truth.copy()
    missed[5:15, 5:15, 10:15] = False
    (k, j, i), positive = training.corrective_click(missed, truth)
    assert positive
    assert truth[k, j, i]
    assert not missed[k, j, i]
    leaked = truth.copy()
    leaked[5:15, 5:15, 15:20] = True
    (k, j, i), positive = training.corrective_click(leaked, truth)
    assert not positive
    assert not truth[k, j, i]
    assert training.corrective_click(truth, truth) is None


def test_simulated_clicks_fall_inside_the_lesion() -> None:
    mask = np.zeros((30, 30, 30), dtype=bool)
    mask[5:25, 8:22, 10:20] = True
    rng = np.random.default_rng(0)
    for _ in range(50):
        click = training.simulated_click(mask, rng)
        assert click is not None
        assert mask[click]
    assert training.simulated_click(np.zeros((4, 4, 4), dtype=bool), rng) is None


def _data_folder(root: Path) -> Path:
    for n in range(2):
        folder = root / f"STS_00{n + 1}"
        folder.mkdir(parents=True)
        for series, modality in training.SARCOMA_SERIES:
            vol, mask = _sphere_volume(modality, 10 * n + len(series))
            write_image(vol, folder / f"{series}_image.nii.gz")
            write_image(mask, folder / f"{series}_mask.nii.gz")
    return root


def test_train_segmenter_writes_weights_and_record(tmp_path: Path) -> None:
    data = _data_folder(tmp_path / "data")
    out = tmp_path / "model"
    args = ["train-segmenter", str(data), "--out", str(out), "--steps", "2", "--json"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["steps"] == 2
    assert record["series"] == 6
    assert record["sha256"] == sha256_of(out / "click-unet.onnx")
    assert json.loads((out / "training.json").read_text())["sha256"] == record["sha256"]
    again = runner.invoke(build_app(), args)
    assert again.exit_code == 2
    assert "error:" in again.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(
        build_app(), ["train-segmenter", str(tmp_path / "empty"), "--out", str(tmp_path / "m2")]
    )
    assert empty.exit_code == 2
    assert "no STS_* patient folder" in empty.output
    inside = runner.invoke(build_app(), ["train-segmenter", str(data), "--out", str(data / "m")])
    assert inside.exit_code == 2
    assert "inside an input folder" in inside.output


@pytest.mark.parametrize(
    "name", ["click-unet", "click-unet-mm", "click-unet-mm-4mm", "click-unet-mm-12mm"]
)
def test_model_card_is_the_registrys(tmp_path: Path, name: str) -> None:
    out = tmp_path / "card.md"
    result = runner.invoke(build_app(), ["model-card", name, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["card"] == str(out)
    text = out.read_text()
    assert text == model_card(find_spec(name))
    spec = find_spec(name)
    assert spec.sha256 in text
    for modality in spec.metrics["cv"]:
        assert f"| {dict(CT='CT', MR='T1 MR', PT='FDG PET')[modality]} |" in text
    shipped = Path(__file__).resolve().parents[2] / "docs" / "models" / f"{name}.md"
    assert shipped.read_text() == text, f"docs/models/{name}.md is stale: radcycle model-card"


def test_segment_learned_with_corrections_and_probabilities(tmp_path: Path) -> None:
    vol, _ = _sphere_volume("PT", 4)
    image = tmp_path / "pet.nii.gz"
    write_image(vol, image)
    out, prob = tmp_path / "mask.nii.gz", tmp_path / "prob.nii.gz"
    args = [
        "segment", str(image), "--point", "40,40,36", "--point", "44,40,36",
        "--negative", "5,5,36", "--modality", "PT", "--method", "learned",
        "--out", str(out), "--probabilities", str(prob), "--json",
    ]  # fmt: skip
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    from radcycle.models.registry import best_spec

    assert data["method"] == best_spec("PT", False, "click-unet")[0].name
    assert "cross-validated" in data["details"]["model_choice"]
    assert data["details"]["route"]["rule"] == "learned"
    assert len(data["details"]["positive"]) == 2
    assert len(data["details"]["negative"]) == 1
    assert data["uncertain"] == (data["quality"] != "ok")
    assert prob.exists()
    # the classical method cannot take corrections; wrong weights are refused
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"x")
    for extra in (
        ["--method", "classical"],
        ["--weights", str(bad)],
    ):
        again = runner.invoke(
            build_app(), [*args[:-7], "--out", str(tmp_path / "o.nii.gz"), *extra]
        )
        assert again.exit_code == 2, again.output
        assert "error:" in again.output


def test_auto_falls_back_to_classical_when_the_weights_do_not_match(tmp_path: Path) -> None:
    from radcycle.pipeline.click_segment import segment_clicks

    vol, _ = _sphere_volume("PT", 5)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"x")
    spec = find_spec("click-unet")
    done = segment_clicks(vol, [(40.0, 40.0, 36.0)], weights=bad)
    if "PT" in spec.metrics.get("default_for", []):
        assert "fallback" in done.result.details
    assert done.result.method == "pet"
    with pytest.raises(InputError, match="do not match"):
        segment_clicks(vol, [(40.0, 40.0, 36.0)], method="learned", weights=bad)


def test_nothing_found_is_an_error_not_an_empty_outline(tmp_path: Path) -> None:
    path = tmp_path / "zero.onnx"

    class Zero(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :1] * 0.0 - 10.0

    training.export_onnx(Zero(), TINY, path)
    vol, _ = _sphere_volume("CT", 2)
    with pytest.raises(AnalysisError, match="no lesion"):
        LearnedSegmenter(OnnxModel(_spec(path), path)).segment(vol, [(12, 20, 20)], [], "CT")


def test_a_positive_click_far_from_the_first_is_inside_the_region_seen(tmp_path: Path) -> None:
    """A reader's second click in a far part of a large lesion (beyond the patch
    around the first) widens the region the network sees, so it counts."""
    path = tmp_path / "clicks.onnx"

    class Clicks(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, 1:2] * 20.0 - 5.0  # lesion wherever a positive click is near

    training.export_onnx(Clicks(), TINY, path)
    vol, _ = _sphere_volume("CT", 2)
    seg = LearnedSegmenter(OnnxModel(_spec(path), path))
    first, far = (12, 20, 2), (12, 20, 37)  # 70 mm apart; the patch is 64 mm
    one = seg.segment(vol, [first], [], "CT").outline
    assert not one.full(vol.array.shape)[far]
    both = seg.segment(vol, [first, far], [], "CT").outline
    mask = both.full(vol.array.shape)
    assert mask[first]
    assert mask[far]


def test_a_lung_nodule_keeps_the_classical_lung_method_where_ct_is_learned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model never saw a lung nodule: even with CT routed to it, ``auto``
    leaves a click in the lung to the classical lung method."""
    from dataclasses import replace

    from radcycle.pipeline import click_segment

    spec = find_spec("click-unet")
    every = replace(spec, metrics={**spec.metrics, "default_for": ["CT", "MR", "PT"]})
    monkeypatch.setattr(click_segment, "find_spec", lambda name: every)
    monkeypatch.setattr(click_segment, "best_spec", lambda *args: (every, "test"))
    from tests.imaging.phantoms import nodule_in_lung

    lung, click = nodule_in_lung()
    done = click_segment.segment_clicks(lung, [click])
    assert done.result.method == "lung-nodule"
    assert done.probabilities is None
    soft, _ = _sphere_volume("CT", 7)
    learned = click_segment.segment_clicks(soft, [(40.0, 40.0, 36.0)])
    assert learned.result.method == "click-unet"


def test_the_default_model_is_the_best_cross_validated_one_as_it_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without ``--model``, the model with the highest cross-validated Dice on the
    modality, measured with the other series where they are given and alone
    otherwise; a model made the default for its other-series Dice is not the
    default for a series alone under ``auto``."""
    from dataclasses import replace
    from functools import partial

    from radcycle.models.registry import best_spec
    from radcycle.pipeline import click_segment

    alone = replace(
        find_spec("click-unet"),
        metrics={"cv": {"CT": {"learned centre mean": 0.60}, "PT": {"learned centre mean": 0.70}}},
    )
    both = replace(
        find_spec("click-unet-mm"),
        metrics={
            "cv": {
                "CT": {"learned centre mean": 0.65, "learned_with centre mean": 0.80},
                "PT": {"learned centre mean": 0.60, "learned_with centre mean": 0.75},
            },
            "default_for": ["CT"],
        },
    )
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"models": [alone.to_dict(), both.to_dict()]}))
    assert best_spec("CT", False, "click-unet", registry)[0].name == "click-unet-mm"
    assert best_spec("PT", False, "click-unet", registry)[0].name == "click-unet"
    assert best_spec("US", False, "click-unet", registry) == (alone, "the default")
    spec, why = best_spec("PT", True, "click-unet-mm", registry)
    assert spec.name == "click-unet-mm"
    assert "0.750" in why
    assert "with the other series" in why
    monkeypatch.setattr(click_segment, "best_spec", partial(best_spec, path=registry))
    vol, _ = _sphere_volume("CT", 3)
    auto = click_segment.segment_clicks(vol, [(40.0, 40.0, 36.0)])
    assert auto.probabilities is None  # classical: the CT default was measured with other series
    asked = click_segment.segment_clicks(vol, [(40.0, 40.0, 36.0)], method="learned")
    assert asked.result.method == "click-unet-mm"
    assert "0.650 (against click-unet 0.600)" in asked.result.details["model_choice"]


class _RampModel:
    """A model whose probability rises along the last axis (not mirror-symmetric):
    the eight-mirroring ensemble must average it into a constant 0.5."""

    def __init__(self, spec: ModelSpec) -> None:
        self._spec = spec
        self.calls: list[int] = []

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape[0])
        n = batch.shape[-1]
        ramp = np.linspace(0.1, 0.9, n, dtype=np.float32)
        return np.broadcast_to(ramp, (batch.shape[0], 1, *batch.shape[2:])).copy()


def test_the_flip_ensemble_averages_each_mirroring_mapped_back(tmp_path: Path) -> None:
    from radcycle.models.interactive import FLIP_ENSEMBLE

    spec = ModelSpec("ramp", "0", "none", "0" * 64, ("lesion",), TINY)
    tiles = np.random.default_rng(0).normal(size=(2, TINY.channels, 16, 16, 16))
    tiles = tiles.astype(np.float32)
    plain = LearnedSegmenter(_RampModel(spec))._predict(tiles)
    assert plain[0, 0, 0, 0, 0] == pytest.approx(0.1)
    assert plain[0, 0, 0, 0, -1] == pytest.approx(0.9)
    model = _RampModel(spec)
    ensemble = LearnedSegmenter(model, flips=FLIP_ENSEMBLE)._predict(tiles)
    # every mirroring of the last axis is paired with one that does not mirror it
    assert np.allclose(ensemble, 0.5, atol=1e-6)
    assert model.calls == [2 * len(FLIP_ENSEMBLE)]  # one batch for all mirrorings
    # mirroring an axis along which the map is constant leaves it as it was
    one = LearnedSegmenter(_RampModel(spec), flips=((), (2,)))._predict(tiles)
    assert np.allclose(one, plain)


def test_an_ensemble_is_one_onnx_graph_of_its_members_mean_probability(
    tiny_net: object, tmp_path: Path
) -> None:
    settings = training.TrainingSettings(steps=2, batch=2, channels=(4, 8), random_seed=5)
    other = training.train(_cases(TINY), TINY, settings)
    assert training.ensemble([tiny_net]) is tiny_net
    both = training.ensemble([tiny_net, other])
    path = tmp_path / "pair.onnx"
    training.export_onnx(both, TINY, path)
    batch = np.random.default_rng(1).normal(size=(2, TINY.channels, 16, 16, 16))
    batch = batch.astype(np.float32)
    spec = _spec(path)
    members = [training.TorchModel(n, spec).predict(batch) for n in (tiny_net, other)]
    assert np.abs(members[0] - members[1]).max() > 1e-3  # the members differ
    got = OnnxModel(spec, path).predict(batch)
    assert np.abs(got - (members[0] + members[1]) / 2.0).max() < 1e-4


def test_train_segmenter_ships_an_ensemble_in_one_file(tmp_path: Path) -> None:
    data = _data_folder(tmp_path / "data")
    out = tmp_path / "model"
    args = ["train-segmenter", str(data), "--out", str(out), "--steps", "2", "--members", "2"]
    result = runner.invoke(build_app(), [*args, "--random-seed", "4", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["members"] == 2
    assert record["member_seeds"] == [4, 5]
    assert record["member_steps"] == [2, 2]
    assert record["sha256"] == sha256_of(out / "click-unet.onnx")
    assert sorted(p.name for p in out.iterdir()) == ["click-unet.onnx", "training.json"]
