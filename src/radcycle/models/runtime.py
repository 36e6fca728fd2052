"""Registry models run by ONNX Runtime on CPU.

:class:`OnnxModel` runs one registry model from a local file whose SHA-256
matches the registry's; :func:`registry_models` loads a model with the
partners it is read with (:attr:`~radcycle.models.protocol.ModelSpec.partners`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from radcycle.errors import InputError
from radcycle.models.protocol import ModelSpec
from radcycle.models.registry import REGISTRY, find_spec, verified_weights

__all__ = ["OnnxModel", "registry_models"]

FloatArray = npt.NDArray[np.float32]


class OnnxModel:
    """A registry model run by ONNX Runtime on CPU, from a local file whose
    SHA-256 matches the registry's (:func:`~radcycle.models.registry.verified_weights`).

    Raises:
        InputError: the file is missing, does not match, or ONNX Runtime is
            not installed (the ``models`` extra).
    """

    def __init__(self, spec: ModelSpec, weights: Path | None = None, threads: int = 1) -> None:
        path = verified_weights(spec, weights)
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise InputError(
                "ONNX Runtime is not installed: pip install 'radcycle[models]'"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # threads that spin waiting for work starve a shared machine
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._spec = spec
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    def predict(self, batch: FloatArray) -> FloatArray:
        (logits,) = self._session.run(["logits"], {"input": np.asarray(batch, np.float32)})
        return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64))), np.float32)


def registry_models(
    spec: ModelSpec, weights: Path | None = None, registry: Path = REGISTRY
) -> tuple[OnnxModel, tuple[OnnxModel, ...]]:
    """``spec``'s model (from ``weights``, by default the registry's file) and the
    partners it is read with, each from the registry's own file.

    Raises:
        InputError: a weights file missing or not matching its SHA-256, a partner
            not in the registry, or ONNX Runtime not installed.
    """
    model = OnnxModel(spec, weights)
    partners = tuple(OnnxModel(find_spec(name, registry)) for name in spec.partners)
    return model, partners
