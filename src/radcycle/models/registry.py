"""The registry of model specs, read from the repository, and weights checked by SHA-256.

``registry.json`` beside this module lists every model radcycle ships: its
:class:`~radcycle.models.protocol.ModelSpec`. Weights are loaded only from an
explicit local file whose SHA-256 matches the registry's; nothing is ever
downloaded.

>>> sorted(s.name for s in load_registry())
['click-unet', 'click-unet-mm', 'click-unet-mm-12mm', 'click-unet-mm-4mm']
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from radcycle.errors import InputError
from radcycle.models.protocol import ModelSpec

__all__ = [
    "REGISTRY",
    "best_spec",
    "find_spec",
    "load_registry",
    "sha256_of",
    "verified_weights",
]

#: The registry shipped with radcycle.
REGISTRY = Path(__file__).with_name("registry.json")


def load_registry(path: Path = REGISTRY) -> list[ModelSpec]:
    """Every model spec of the registry at ``path``.

    Raises:
        InputError: the file is missing or not a registry.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [ModelSpec.from_dict(entry) for entry in data["models"]]
    except FileNotFoundError as exc:
        raise InputError("model registry not found", path=path) from exc
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(f"not a model registry ({exc})", path=path) from exc


def find_spec(name: str, path: Path = REGISTRY) -> ModelSpec:
    """The spec of the model called ``name``.

    Raises:
        InputError: no model of that name.
    """
    specs = load_registry(path)
    for spec in specs:
        if spec.name == name:
            return spec
    raise InputError(f"no model {name!r}; the registry has {sorted(s.name for s in specs)}")


def best_spec(
    modality: str, companions: bool, fallback: str, path: Path = REGISTRY
) -> tuple[ModelSpec, str]:
    """The registry's model for ``modality``, and why in words: of the models
    trained on it (and taking companion series, where ``companions``), the one
    with the highest cross-validated centre-click Dice measured as it will be
    used, with the other series (``companions``) or on the series alone (the
    ``cv`` summary of each spec's metrics; a model that serves as another's
    partner is not chosen on its own). Where no model has that
    measurement, the model called ``fallback``.

    Raises:
        InputError: the registry is unreadable, or ``fallback`` is not in it.
    """
    key = "learned_with centre mean" if companions else "learned centre mean"
    scored = []
    specs = load_registry(path)
    partners = {name for spec in specs for name in spec.partners}
    for spec in specs:
        if (
            spec.name in partners
            or modality not in spec.contract.modalities
            or (companions and not spec.contract.companions)
        ):
            continue
        value = spec.metrics.get("cv", {}).get(modality, {}).get(key)
        if value is not None:
            scored.append((float(value), spec))
    if not scored:
        return find_spec(fallback, path), "the default"
    scored.sort(key=lambda x: -x[0])
    best, spec = scored[0]
    context = "with the other series" if companions else "on the series alone"
    others = "; ".join(f"{s.name} {v:.3f}" for v, s in scored[1:])
    return spec, (
        f"the highest cross-validated centre-click Dice on {modality} {context}: "
        f"{best:.3f}" + (f" (against {others})" if others else "")
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_weights(
    spec: ModelSpec, weights: Path | None = None, registry: Path = REGISTRY
) -> Path:
    """The weights file of ``spec``, checked against its SHA-256.

    Args:
        spec: the model.
        weights: an explicit local file; by default the registry's own, beside it.
        registry: the registry the default file is relative to.

    Raises:
        InputError: the file is missing or its SHA-256 is not the registry's.
    """
    path = weights if weights is not None else registry.parent / spec.file
    if not path.is_file():
        raise InputError(f"weights of model {spec.name!r} not found", path=path)
    found = sha256_of(path)
    if found != spec.sha256:
        raise InputError(
            f"weights of model {spec.name!r} do not match the registry's sha256 "
            f"(expected {spec.sha256[:12]}..., found {found[:12]}...)",
            path=path,
        )
    return path
