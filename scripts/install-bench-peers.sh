#!/usr/bin/env bash
# Peers measured side by side by benchmarks/bench_radiomics.py: pyradiomics 3.0.1 and
# MIRP. They are never radcycle dependencies, so they live in their own virtualenv
# (default ~/.cache/radcycle/bench-peers, or $RADCYCLE_PEERS_VENV) and cannot change
# the versions radcycle runs with. pyradiomics 3.0.1 builds only without build
# isolation, after numpy, setuptools, wheel and versioneer.
set -euo pipefail
VENV="${RADCYCLE_PEERS_VENV:-$HOME/.cache/radcycle/bench-peers}"
PYTHON="${PYTHON:-python3.11}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q numpy setuptools wheel versioneer
"$PY" -m pip install -q --no-build-isolation "pyradiomics==3.0.1"
"$PY" -m pip install -q mirp
echo "peers installed in $VENV"
