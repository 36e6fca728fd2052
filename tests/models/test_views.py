"""Reading a tumour from every series in turn (``LearnedSegmenter(views=True)``):
each companion's view is carried through patient space onto the clicked
series' grid and averaged where it reaches; the click pipeline uses it on the
modalities the registry's cross-validation chose."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import InputError
from radcycle.models.interactive import LearnedSegmenter, OnnxModel
from radcycle.models.protocol import ModelSpec
from radcycle.models.registry import REGISTRY, find_spec, sha256_of

torch = pytest.importorskip("torch", reason="the models extra (torch) is not installed")
pytest.importorskip("onnxruntime", reason="the models extra (onnxruntime) is not installed")

from radcycle.models import training  # noqa: E402
from tests.models.test_companions import TINY_WITH  # noqa: E402
from tests.models.test_models import _sphere_volume  # noqa: E402

CT_IMAGE = TINY_WITH.modalities.index("CT")


def _ct_with_an_oblong_lesion() -> Volume:
    """A CT whose lesion is an ellipsoid long along x, off the centre of the grid
    (a view mapped through the wrong axes or origin would miss it)."""
    shape = (24, 40, 40)  # k, j, i on 3 x 2 x 2 mm
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    inside = ((i - 24) * 2.0 / 22.0) ** 2 + ((j - 16) * 2.0 / 9.0) ** 2 + (
        (k - 11) * 3.0 / 10.0
    ) ** 2 <= 1.0
    arr = np.where(inside, 120.0, 40.0).astype(np.float32)
    return Volume(arr, Geometry((-6.0, 4.0, -9.0), (2.0, 2.0, 3.0)), {"modality": "CT"})


def _pet_on_another_grid() -> Volume:
    """A PET over the same region on a coarser grid with another origin."""
    shape = (20, 24, 26)
    arr = np.full(shape, 1.0, np.float32)
    return Volume(arr, Geometry((-10.0, 0.0, -12.0), (3.5, 3.5, 3.5)), {"modality": "PT"})


@pytest.fixture(scope="module")
def reads_the_ct(tmp_path_factory: pytest.TempPathFactory) -> OnnxModel:
    """A model whose lesion is wherever the CT channel is bright, whichever series
    is the outlined one: every view must then agree in patient space."""

    class ReadsCt(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x[:, CT_IMAGE : CT_IMAGE + 1] - 0.1) * 40.0

    path = tmp_path_factory.mktemp("views") / "reads-ct.onnx"
    training.export_onnx(ReadsCt(), TINY_WITH, path)
    spec = ModelSpec("reads-ct", "0", path.name, sha256_of(path), ("lesion",), TINY_WITH)
    return OnnxModel(spec, path)


def test_every_view_lands_where_the_clicked_series_sees_the_lesion(
    reads_the_ct: OnnxModel,
) -> None:
    ct, pet = _ct_with_an_oblong_lesion(), _pet_on_another_grid()
    centre = pet.patient_to_index(ct.index_to_patient(np.asarray([[24.0, 16.0, 11.0]])))[0]
    click = (round(centre[2]), round(centre[1]), round(centre[0]))
    one = LearnedSegmenter(reads_the_ct, companions={"CT": ct})
    both = replace(one, views=True)
    own = one.segment(pet, [click], [], "PT")
    fused = both.segment(pet, [click], [], "PT")
    assert fused.outline.details["views"] == ["PT", "CT"]
    assert "views" not in own.outline.details
    assert own.outline.box == fused.outline.box
    # the CT's own reading, carried onto the PET grid, agrees with the PET's reading
    # of the CT channel: the average is the PET's reading up to interpolation
    a, b = own.outline.mask, fused.outline.mask
    assert a.sum() > 20
    assert 2.0 * (a & b).sum() / (a.sum() + b.sum()) > 0.9
    assert float(np.abs(own.probabilities - fused.probabilities).mean()) < 0.05


def test_the_views_are_averaged_where_each_reaches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each view a constant: the clicked PET 0.2, the CT 0.9, an MR covering only
    the near half 0.7; the mean of those that reach each point."""
    pet, _ = _sphere_volume("PT", 1)  # 24 x 40 x 40 on 2 x 2 x 3 mm from the origin
    ct, _ = _sphere_volume("CT", 2)
    mr_full, _ = _sphere_volume("MR", 3)
    mr = Volume(mr_full.array[:, :, :20], mr_full.geometry, {"modality": "MR"})  # x < 40 mm
    value = {"PT": 0.2, "CT": 0.9, "MR": 0.7}

    def constant(self: Any, volume: Volume, box: Any, *args: Any) -> np.ndarray:
        modality = args[2]
        contract = self.model.spec.contract
        shape = [
            max(1, round((b.stop - b.start - 1) * s / contract.spacing_mm) + 1)
            for b, s in zip(box, (3.0, 2.0, 2.0), strict=True)
        ]
        return np.full(shape, value[modality], np.float32)

    monkeypatch.setattr(LearnedSegmenter, "_grid_probabilities", constant)
    model = training.TorchModel(
        torch.nn.Identity(), ModelSpec("c", "0", "", "", ("lesion",), TINY_WITH)
    )
    seg = LearnedSegmenter(model, companions={"CT": ct, "MR": mr}, views=True)
    box = (slice(0, 24), slice(0, 40), slice(0, 40))
    prob, fused = seg._probabilities(pet, box, [(12, 20, 10)], [], "PT", 200.0)
    assert fused == ["CT", "MR"]
    assert prob[12, 20, 4] == pytest.approx(0.6, abs=1e-5)  # all three views
    assert prob[12, 20, 36] == pytest.approx(0.55, abs=1e-5)  # beyond the MR: two
    alone, none = replace(seg, views=False)._probabilities(pet, box, [(12, 20, 10)], [], "PT", 32.0)
    assert none == []
    assert np.allclose(alone, 0.2)


def test_the_pipeline_reads_every_view_where_the_registry_chose_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from radcycle.models.registry import best_spec
    from radcycle.pipeline import click_segment

    shipped = find_spec("click-unet-mm")
    metrics = {
        **shipped.metrics,
        "views_for": ["MR"],
        "views_decision": "a rule",
    }
    registry = tmp_path / "registry.json"
    entry = replace(shipped, metrics=metrics).to_dict()
    entry["file"] = str(REGISTRY.parent / shipped.file)
    registry.write_text(json.dumps({"models": [entry]}))
    monkeypatch.setattr(click_segment, "best_spec", partial(best_spec, path=registry))
    mr, _ = _sphere_volume("MR", 4)
    ct, _ = _sphere_volume("CT", 5)
    pet, _ = _sphere_volume("PT", 6)
    point = (40.0, 40.0, 36.0)
    on_mr = click_segment.segment_clicks(
        mr, [point], method="learned", companions={"CT": ct, "PT": pet}
    )
    assert on_mr.result.details["views"] == ["MR", "CT", "PT"]
    assert "every series read in turn" in on_mr.result.details["views_choice"]
    on_pet = click_segment.segment_clicks(
        pet, [point], method="learned", companions={"CT": ct, "MR": mr}
    )
    assert "views" not in on_pet.result.details
    assert "PT is not among" in on_pet.result.details["views_choice"]
    alone = click_segment.segment_clicks(mr, [point], method="learned")
    assert "views_choice" not in alone.result.details


def test_partner_readings_are_averaged_on_the_union_of_their_regions() -> None:
    from radcycle.models.interactive import _combined, _Reading

    near = _Reading(
        (slice(0, 4), slice(0, 4), slice(0, 4)), np.full((4, 4, 4), 0.9, np.float32),
        [], 16.0, 8.0,
    )  # fmt: skip
    wide = _Reading(
        (slice(2, 8), slice(0, 4), slice(0, 4)), np.full((6, 4, 4), 0.5, np.float32),
        [], 32.0, 4.0,
    )  # fmt: skip
    box, prob = _combined([near, wide])
    assert box == (slice(0, 8), slice(0, 4), slice(0, 4))
    assert prob[0, 0, 0] == pytest.approx(0.9)  # the wide reading did not read there
    assert prob[3, 0, 0] == pytest.approx(0.7)  # both
    assert prob[7, 0, 0] == pytest.approx(0.5)  # beyond the near reading's region
    assert _combined([near])[1] is near.prob


def test_a_model_is_read_with_its_partners_on_other_grids(
    reads_the_ct: OnnxModel, tmp_path: Path
) -> None:
    ct = _ct_with_an_oblong_lesion()
    fine = replace(TINY_WITH, spacing_mm=2.5)
    path = tmp_path / "fine.onnx"

    class ReadsCt(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x[:, CT_IMAGE : CT_IMAGE + 1] - 0.1) * 40.0

    training.export_onnx(ReadsCt(), fine, path)
    partner = OnnxModel(ModelSpec("fine", "0", path.name, sha256_of(path), ("lesion",), fine), path)
    click = (11, 16, 24)
    alone = LearnedSegmenter(reads_the_ct).segment(ct, [click], [], "CT")
    both = LearnedSegmenter(reads_the_ct, partners=(partner,)).segment(ct, [click], [], "CT")
    assert both.outline.details["grids_mm"] == [4.0, 2.5]
    assert both.outline.details["partners"][0]["model"] == "fine"
    assert "partners" not in alone.outline.details
    a, b = alone.outline.full(ct.array.shape), both.outline.full(ct.array.shape)
    assert 2.0 * (a & b).sum() / (a.sum() + b.sum()) > 0.85  # both read the same lesion
    # a partner not trained on the modality is refused like the model itself
    mr_only = replace(partner.spec, contract=replace(fine, modalities=("MR",)))
    odd = LearnedSegmenter(
        reads_the_ct, partners=(training.TorchModel(torch.nn.Identity(), mr_only),)
    )
    with pytest.raises(InputError, match="trained on"):
        odd.segment(ct, [click], [], "CT")


def test_a_partner_serves_only_in_its_group(tmp_path: Path) -> None:
    from radcycle.models.registry import best_spec, load_registry

    shipped = find_spec("click-unet-mm")
    group = replace(
        shipped,
        partners=("click-unet-mm-4mm",),
        metrics={"cv": {"CT": {"learned_with centre mean": 0.70}}},
    )
    member = replace(
        shipped,
        name="click-unet-mm-4mm",
        partners=(),
        contract=replace(shipped.contract, spacing_mm=4.0),
        metrics={"cv": {"CT": {"learned_with centre mean": 0.90}}},
    )
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"models": [group.to_dict(), member.to_dict()]}))
    assert load_registry(registry)[0].partners == ("click-unet-mm-4mm",)
    assert best_spec("CT", True, "click-unet-mm", registry)[0].name == "click-unet-mm"
    assert "partners" not in member.to_dict()


def test_a_partner_whose_weights_cannot_serve_is_handled_as_the_models_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A partner's file missing: an error where the learned model was asked for,
    and under ``auto`` the classical method, saying why."""
    from radcycle.errors import RadcycleError
    from radcycle.models import runtime
    from radcycle.models.registry import best_spec
    from radcycle.pipeline import click_segment

    shipped = find_spec("click-unet-mm")
    main = shipped.to_dict()
    main["file"] = str(REGISTRY.parent / shipped.file)
    partner = find_spec(shipped.partners[0]).to_dict()
    partner["file"] = str(tmp_path / "gone.onnx")  # not there
    main["partners"] = [partner["name"]]
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"models": [main, partner]}))
    monkeypatch.setattr(click_segment, "best_spec", partial(best_spec, path=registry))
    monkeypatch.setattr(
        click_segment,
        "registry_models",
        partial(runtime.registry_models, registry=registry),
    )
    mr, _ = _sphere_volume("MR", 4)
    others = {"CT": _sphere_volume("CT", 5)[0], "PT": _sphere_volume("PT", 6)[0]}
    with pytest.raises(RadcycleError, match="weights of model 'click-unet-mm-4mm' not found"):
        click_segment.segment_clicks(mr, [(40.0, 40.0, 36.0)], method="learned", companions=others)
    auto = click_segment.segment_clicks(mr, [(40.0, 40.0, 36.0)], companions=others)
    assert auto.probabilities is None
    assert "click-unet-mm-4mm" in auto.result.details["fallback"]
