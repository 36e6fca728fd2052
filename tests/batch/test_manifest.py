"""The run folder: one driver at a time, and what a killed driver left is pending again."""

from __future__ import annotations

from pathlib import Path

import pytest

from radcycle.batch.manifest import Item, open_manifest
from radcycle.batch.outputs import tree_checksum, write_atomic
from radcycle.errors import InputError

ITEMS = [Item("a", {"n": 1}), Item("b", {"n": 2})]


def test_second_driver_on_the_same_run_folder_is_refused(tmp_path: Path) -> None:
    with open_manifest(tmp_path) as manifest:
        manifest.adopt({"command": "x"}, ITEMS)
        with pytest.raises(InputError, match="another batch run"), open_manifest(tmp_path):
            pass
    with open_manifest(tmp_path) as manifest:  # free again once the first is done
        assert manifest.counts()["pending"] == 2


def test_other_parameters_are_refused(tmp_path: Path) -> None:
    with open_manifest(tmp_path) as manifest:
        manifest.adopt({"command": "x", "config": "a"}, ITEMS)
        with pytest.raises(InputError, match="other parameters") as info:
            manifest.adopt({"command": "x", "config": "b"}, ITEMS)
    assert info.value.value == ["config"]


def test_running_and_broken_done_items_become_pending(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.txt", b"a")
    write_atomic(tmp_path / "b.txt", b"b")
    with open_manifest(tmp_path / "run") as manifest:
        manifest.adopt({"command": "x"}, [*ITEMS, Item("c", {})])
        for seq, name in enumerate(("a.txt", "b.txt")):
            manifest.start(seq)
            manifest.finish(seq, [name], tree_checksum(tmp_path, [name]), {})
        manifest.start(2)  # the driver dies here
    (tmp_path / "b.txt").write_bytes(b"altered")
    with open_manifest(tmp_path / "run") as manifest:
        assert manifest.recover(tmp_path) == 1
        assert manifest.counts() == {"pending": 2, "running": 0, "done": 1, "failed": 0}
        assert [s.key for s in manifest.states("pending")] == ["b", "c"]
