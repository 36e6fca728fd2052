#!/usr/bin/env bash
# Installs the Debian packages the tests need (none yet beyond the base image).
# Each issue that brings a real component (Orthanc, Chromium, llama.cpp) adds it here.
set -euo pipefail
PACKAGES=()
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
