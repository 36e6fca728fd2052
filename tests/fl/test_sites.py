from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.errors import ExportError, InputError
from radcycle.fl.sites import (
    HELD_OUT,
    SPLIT_FILE,
    fold_split,
    make_sites,
    read_site,
    shares,
    site_counts,
)

runner = CliRunner()


def test_split_is_disjoint_complete_and_non_iid(patients: Path, tmp_path: Path) -> None:
    report = make_sites(patients, tmp_path / "sites", random_seed=3)
    every = [p for names in report.sites.values() for p in names]
    assert sorted(every) == sorted(p.name for p in patients.iterdir())
    assert len(set(every)) == len(every)
    assert {k: len(v) for k, v in report.sites.items()} == shares(9)
    east = read_site(tmp_path / "sites" / "east")
    assert "MR" not in east["modalities"]
    assert not list((tmp_path / "sites" / "east").rglob("MR_T1_*"))
    north = tmp_path / "sites" / "north"
    assert all(p.is_symlink() for p in north.rglob("*.nii.gz"))


def test_calibrated_site_has_shifted_values_and_source_masks(
    patients: Path, tmp_path: Path
) -> None:
    report = make_sites(patients, tmp_path / "sites")
    patient = report.sites["south"][0]
    ct = tmp_path / "sites" / "south" / patient / "CT_image.nii.gz"
    assert not ct.is_symlink()
    shifted = np.asarray(nib.load(ct).get_fdata())
    original = np.asarray(nib.load(patients / patient / "CT_image.nii.gz").get_fdata())
    np.testing.assert_allclose(shifted, original + 30.0, atol=1e-3)
    pet = tmp_path / "sites" / "south" / patient / "PET_image.nii.gz"
    original_pet = np.asarray(nib.load(patients / patient / "PET_image.nii.gz").get_fdata())
    np.testing.assert_allclose(np.asarray(nib.load(pet).get_fdata()), original_pet * 1.2, rtol=1e-5)
    assert (tmp_path / "sites" / "south" / patient / "CT_mask.nii.gz").is_symlink()


def test_same_seed_same_split_other_seed_other(patients: Path, tmp_path: Path) -> None:
    a = make_sites(patients, tmp_path / "a", random_seed=1).sites
    b = make_sites(patients, tmp_path / "b", random_seed=1).sites
    c = make_sites(patients, tmp_path / "c", random_seed=2).sites
    assert a == b
    assert a != c


def test_refuses_existing_output_and_overlap(patients: Path, tmp_path: Path) -> None:
    out = tmp_path / "sites"
    make_sites(patients, out)
    with pytest.raises(ExportError, match="--force"):
        make_sites(patients, out)
    make_sites(patients, out, force=True, random_seed=5)
    with pytest.raises(ExportError, match="overlaps"):
        make_sites(patients, patients / "sites")
    other = tmp_path / "not-sites"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="not a folder of sites"):
        make_sites(patients, other, force=True)
    assert (other / "keep.txt").exists()


def test_too_few_patients_and_no_patients(tmp_path: Path) -> None:
    from tests.fl.conftest import write_patients

    with pytest.raises(InputError, match="cannot make"):
        make_sites(write_patients(tmp_path / "three", 3), tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no patient folder"):
        make_sites(tmp_path / "empty", tmp_path / "o2")


def test_folds_hold_every_patient_out_once_with_the_same_sites(
    patients: Path, tmp_path: Path
) -> None:
    names = sorted(p.name for p in patients.iterdir())
    held: list[str] = []
    for k in range(3):
        report = make_sites(patients, tmp_path / f"fold-{k}", folds=3, fold=k, random_seed=2)
        assert report.sites == fold_split(names, 3, k, random_seed=2)
        every = [p for v in report.sites.values() for p in v]
        assert sorted(every) == names
        held += report.sites[HELD_OUT]
        counts = {n: len(v) for n, v in report.sites.items() if n != HELD_OUT}
        assert counts == site_counts(len(names) - len(report.sites[HELD_OUT]))
        assert not list((tmp_path / f"fold-{k}" / "east").rglob("MR_T1_*"))
        split = json.loads((tmp_path / f"fold-{k}" / SPLIT_FILE).read_text())
        assert (split["folds"], split["fold"]) == (3, k)
    assert sorted(held) == names
    with pytest.raises(InputError, match="fold 3 of 3"):
        fold_split(names, 3, 3)
    with pytest.raises(InputError, match="cannot make"):
        fold_split(names[:4], 2, 0)


def test_cli_make_sites_json(patients: Path, tmp_path: Path) -> None:
    out = tmp_path / "sites"
    argv = ["fl", "make-sites", str(patients), "--out", str(out), "--random-seed", "4", "--json"]
    result = runner.invoke(build_app(argv), argv)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["random_seed"] == 4
    assert set(data["sites"]) == {HELD_OUT, "north", "east", "south"}
    assert json.loads((out / SPLIT_FILE).read_text())["sites"] == data["sites"]
    again = runner.invoke(build_app(argv), argv)
    assert again.exit_code == 2
    assert "error:" in again.stderr


@pytest.mark.realdata
def test_sarcoma_split(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "ibsi" / "ibsi_validation" / "nifti"
    report = make_sites(source, tmp_path / "sites")
    assert {k: len(v) for k, v in report.sites.items()} == {
        HELD_OUT: 5,
        "north": 9,
        "east": 6,
        "south": 3,
    }
