"""int8 quantisation of an exported network, and the rule that would ship it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the models extra (torch) is not installed")
onnx = pytest.importorskip("onnx", reason="the models extra (onnx) is not installed")

from benchmarks.bench_quantise import MAX_DICE_CHANGE, kept, quantised  # noqa: E402

from radcycle.models import training  # noqa: E402
from radcycle.models.interactive import OnnxModel  # noqa: E402
from radcycle.models.protocol import ModelSpec  # noqa: E402
from radcycle.models.registry import sha256_of  # noqa: E402
from tests.models.test_models import TINY  # noqa: E402


def _model(path: Path) -> OnnxModel:
    return OnnxModel(ModelSpec("t", "0", path.name, sha256_of(path), ("lesion",), TINY), path)


def test_static_and_dynamic_int8_run_and_stay_near_float32(tmp_path: Path) -> None:
    net = training.build_network(TINY, (4, 8))
    source = tmp_path / "tiny.onnx"
    training.export_onnx(net, TINY, source)
    rng = np.random.default_rng(0)
    tiles = [rng.normal(size=(1, TINY.channels, 16, 16, 16)).astype(np.float32) for _ in range(6)]
    files = quantised(source, tiles, tmp_path)
    assert set(files) == {"int8 static", "int8 dynamic"}
    ops = {k: {n.op_type for n in onnx.load(str(p)).graph.node} for k, p in files.items()}
    assert "QuantizeLinear" in ops["int8 static"]
    assert ops["int8 dynamic"] & {"ConvInteger", "DynamicQuantizeLinear"}
    batch = np.concatenate(tiles[:2])
    want = _model(source).predict(batch)
    for path in files.values():
        got = _model(path).predict(batch)
        assert got.shape == want.shape
        assert np.isfinite(got).all()
        assert np.abs(got - want).max() < 0.05


def _summary(change: float, seconds: float) -> dict[str, dict[str, object]]:
    base = {"mean_change": {"CT": 0.0, "MR": 0.0}, "median_s": 0.10}
    other = {"mean_change": {"CT": 0.0, "MR": change}, "median_s": seconds}
    return {"float32": base, "int8 static": other}


def test_int8_is_shipped_only_where_dice_holds_and_a_click_is_faster() -> None:
    assert kept(_summary(0.004, 0.05), "int8 static")[0]
    held, why = kept(_summary(0.004, 0.12), "int8 static")
    assert not held
    assert "not faster" in why
    moved, why = kept(_summary(-(MAX_DICE_CHANGE + 0.005), 0.05), "int8 static")
    assert not moved
    assert "moves" in why
