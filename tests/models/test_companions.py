"""The learned model that reads the patient's other series beside the clicked one:
sampling in patient space, training and ONNX export with companions, the CLI's
``--with`` and its refusals."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.domain import Geometry, Volume
from radcycle.errors import InputError
from radcycle.io import read_image, write_image
from radcycle.models.encoding import encode, model_stack, normalise
from radcycle.models.interactive import LearnedSegmenter, OnnxModel
from radcycle.models.protocol import ModelSpec
from radcycle.models.registry import find_spec, sha256_of, verified_weights

torch = pytest.importorskip("torch", reason="the models extra (torch) is not installed")
pytest.importorskip("onnxruntime", reason="the models extra (onnxruntime) is not installed")

from radcycle.models import training  # noqa: E402
from tests.models.test_models import TINY, _data_folder, _sphere_volume  # noqa: E402

runner = CliRunner()

TINY_WITH = replace(TINY, companions=True)


def _ramp(origin: tuple[float, float, float], spacing: tuple[float, float, float]) -> Volume:
    """A PET whose SUV is x / 10 mm (linear, so sampled exactly anywhere inside)."""
    shape = (10, 12, 14)  # k, j, i
    geo = Geometry(origin, spacing)
    i = np.arange(shape[2]) * spacing[0] + origin[0]
    arr = np.broadcast_to(i / 10.0, shape).astype(np.float32)
    return Volume(np.ascontiguousarray(arr), geo, {"modality": "PT"})


def test_a_companion_is_sampled_at_the_same_points_in_patient_space() -> None:
    ct, _ = _sphere_volume("CT", 0)  # 2 x 2 x 3 mm from the origin
    pet = _ramp((10.0, -6.0, 3.0), (4.0, 4.0, 3.0))
    box = (slice(0, 24), slice(0, 40), slice(0, 40))
    stack = model_stack(ct, "CT", {"PT": pet}, box, TINY_WITH)
    n = len(TINY_WITH.modalities)
    assert stack.shape[0] == 2 * n
    ct_at, pt_at = TINY_WITH.modalities.index("CT"), TINY_WITH.modalities.index("PT")
    assert stack[n + ct_at].min() == 1.0  # the clicked series covers its own region
    assert not stack[n + 1].any()  # no MR given: 0 in both its channels
    assert not stack[1].any()
    cover = stack[n + pt_at] > 0
    assert 0 < cover.mean() < 1  # the PET covers part of the CT's region
    # each covered point holds the PET's value at that point in patient space
    grid = np.argwhere(cover)
    factors = [(n_ - 1) / (m - 1) for n_, m in zip((24, 40, 40), stack.shape[1:], strict=True)]
    native = grid * np.asarray(factors)
    x = ct.index_to_patient(native[:, ::-1])[:, 0]
    x = np.clip(x, 10.0, 10.0 + 13 * 4.0)  # the outer half voxel takes the edge's value
    expected = normalise(x / 10.0, "PT", TINY_WITH)
    assert np.abs(stack[pt_at][cover] - expected).max() < 1e-4
    assert not stack[pt_at][~cover].any()
    assert encode(stack, [(1, 1, 1)], [], "CT", TINY_WITH).shape[0] == TINY_WITH.channels


def test_companions_are_refused_where_they_cannot_serve() -> None:
    ct, _ = _sphere_volume("CT", 0)
    box = (slice(0, 24), slice(0, 40), slice(0, 40))
    with pytest.raises(InputError, match="another modality"):
        model_stack(ct, "CT", {"CT": ct}, box, TINY_WITH)
    odd = replace(ct, metadata={"modality": "US"})
    with pytest.raises(InputError, match="trained on"):
        model_stack(ct, "CT", {"US": odd}, box, TINY_WITH)


@pytest.fixture(scope="module")
def net_with_companions(tmp_path_factory: pytest.TempPathFactory) -> object:
    data = _data_folder(tmp_path_factory.mktemp("data"))
    cases = training.load_sarcoma_cases(data, read_image, TINY_WITH)
    assert len(cases) == 6
    assert all(c.image.shape[0] == 6 for c in cases)
    settings = training.TrainingSettings(steps=3, batch=2, channels=(4, 8), random_seed=0)
    net = training.train(cases, TINY_WITH, settings)
    assert len(settings.log) == 3
    assert all(np.isfinite(x["loss"]) for x in settings.log)
    return net


def test_the_model_with_companions_exports_and_serves_with_or_without_them(
    net_with_companions: object, tmp_path: Path
) -> None:
    path = tmp_path / "with.onnx"
    training.export_onnx(net_with_companions, TINY_WITH, path)
    spec = ModelSpec("tiny-with", "0", path.name, sha256_of(path), ("lesion",), TINY_WITH)
    onnx_model = OnnxModel(spec, path)
    torch_model = training.TorchModel(net_with_companions, spec)
    pet, _ = _sphere_volume("PT", 9)
    ct, _ = _sphere_volume("CT", 3)
    mr, _ = _sphere_volume("MR", 4)
    got = {}
    for name, model in (("onnx", onnx_model), ("torch", torch_model)):
        seg = LearnedSegmenter(model, companions={"CT": ct, "MR": mr})
        out = seg.segment(pet, [(12, 20, 20)], [(12, 20, 38)], "PT")
        assert out.outline.details["companions"] == ["CT", "MR"]
        got[name] = out.probabilities
    assert np.abs(got["onnx"] - got["torch"]).max() < 1e-4
    alone = LearnedSegmenter(onnx_model).segment(pet, [(12, 20, 20)], [], "PT")
    assert alone.outline.details["companions"] == []
    # a model trained on one series alone takes no companion
    plain = LearnedSegmenter(onnx_model, companions={"CT": ct})
    single = replace(spec, contract=TINY)
    with pytest.raises(InputError, match="takes no companion"):
        replace(plain, model=training.TorchModel(net_with_companions, single)).segment(
            pet, [(12, 20, 20)], [], "PT"
        )


def test_the_shipped_model_with_companions_matches_its_registry_entry() -> None:
    spec = find_spec("click-unet-mm")
    assert spec.contract.companions
    assert spec.contract.channels == 8
    assert verified_weights(spec).stat().st_size < 8_000_000
    assert spec.metrics["cv"], "the registry entry carries its cross-validation"
    # read with partners trained alike on other grids, each a verified file of its own
    assert spec.partners
    grids = {spec.contract.spacing_mm}
    for name in spec.partners:
        partner = find_spec(name)
        assert replace(partner.contract, spacing_mm=spec.contract.spacing_mm) == spec.contract
        assert verified_weights(partner).stat().st_size < 3_000_000
        grids.add(partner.contract.spacing_mm)
    assert len(grids) == 1 + len(spec.partners)


def _series(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for modality in ("PT", "CT", "MR"):
        vol, _ = _sphere_volume(modality, 4)
        out[modality] = tmp_path / f"{modality.lower()}.nii.gz"
        write_image(vol, out[modality])
    return out


def test_segment_with_the_patients_other_series(tmp_path: Path) -> None:
    series = _series(tmp_path)
    out = tmp_path / "mask.nii.gz"
    args = [
        "segment", str(series["PT"]), "--point", "40,40,36", "--modality", "PT",
        "--with", f"CT={series['CT']}", "--with", f"mr={series['MR']}",
        "--method", "learned", "--out", str(out), "--json",
    ]  # fmt: skip
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["method"] == "click-unet-mm"
    assert data["details"]["companions"] == ["CT", "MR"]
    assert data["uncertain"] == (data["quality"] != "ok")
    assert np.asarray(read_image(out).array).any()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--with", "US=x.nii.gz"], "MODALITY=IMAGE"),
        (["--with", "CT"], "MODALITY=IMAGE"),
        (["--with", "PT=pt"], "already PT"),
        (["--with", "CT=ct", "--with", "CT=ct"], "given twice"),
        (["--with", "CT=ct", "--method", "classical"], "need the learned method"),
        (["--with", "MR=far"], "does not contain the click"),
    ],
)
def test_companions_that_cannot_serve_are_a_clear_error(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    series = _series(tmp_path)
    vol, _ = _sphere_volume("MR", 5)
    far = Volume(vol.array, Geometry((500.0, 0.0, 0.0), (2.0, 2.0, 3.0)), {"modality": "MR"})
    write_image(far, tmp_path / "far.nii.gz")
    paths = {"pt": series["PT"], "ct": series["CT"], "far": tmp_path / "far.nii.gz"}
    extra = [
        e.split("=")[0] + "=" + str(paths[e.split("=")[1]]) if e.split("=")[-1] in paths else e
        for e in extra
    ]
    out = tmp_path / "mask.nii.gz"
    args = ["segment", str(series["PT"]), "--point", "40,40,36", "--modality", "PT"]
    result = runner.invoke(build_app(), [*args, *extra, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    assert message in result.output
    assert not out.exists()


def test_train_segmenter_with_companions(tmp_path: Path) -> None:
    data = _data_folder(tmp_path / "data")
    out = tmp_path / "model"
    args = ["train-segmenter", str(data), "--out", str(out), "--steps", "2", "--companions"]
    result = runner.invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["name"] == "click-unet-mm"
    assert record["contract"]["companions"] is True
    assert record["sha256"] == sha256_of(out / "click-unet-mm.onnx")


def test_an_outline_the_other_series_change_a_lot_is_uncertain(tmp_path: Path) -> None:
    """Where the outline with the other series and the same model's outline of the
    clicked series alone overlap little, the outline is flagged uncertain."""
    path = tmp_path / "shrinks.onnx"
    n = len(TINY_WITH.modalities)
    click, ct_cover = 2 * n, n + TINY_WITH.modalities.index("CT")

    class Shrinks(torch.nn.Module):  # type: ignore[misc]
        """Lesion near the click: wide alone, a small core where a CT covers it."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, click : click + 1] * 20.0 - 5.0 - 10.0 * x[:, ct_cover : ct_cover + 1]

    training.export_onnx(Shrinks(), TINY_WITH, path)
    spec = ModelSpec("shrinks", "0", path.name, sha256_of(path), ("lesion",), TINY_WITH)
    pet, _ = _sphere_volume("PT", 9)
    ct, _ = _sphere_volume("CT", 3)
    mr, _ = _sphere_volume("MR", 4)
    model = OnnxModel(spec, path)
    shrunk = LearnedSegmenter(model, companions={"CT": ct}).segment(pet, [(12, 20, 20)], [], "PT")
    assert shrunk.outline.details["agreement_alone"] < 0.45
    assert shrunk.outline.quality.value == "uncertain"
    same = LearnedSegmenter(model, companions={"MR": mr}).segment(pet, [(12, 20, 20)], [], "PT")
    assert same.outline.details["agreement_alone"] == 1.0
    assert (
        "agreement_alone"
        not in LearnedSegmenter(model).segment(pet, [(12, 20, 20)], [], "PT").outline.details
    )
