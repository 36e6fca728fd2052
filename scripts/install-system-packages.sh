#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks need.
# Each issue that brings a real component (Orthanc, Chromium, llama.cpp) adds it here.
#   dicom3tools    dciodvfy, the DICOM validator run on the SR and SEG exports
#   poppler-utils  pdftotext / pdftoppm, to read the PDF report back (text, page images)
#   orthanc, orthanc-dicomweb  the PACS the pacs tests and benchmark start (loopback only)
#   iproute2       ip, to bring up loopback in Orthanc's own network namespace
#   postgresql     the review service's store tested on PostgreSQL (a cluster per test run,
#                  on a unix socket in a temp dir; the Debian service is never started)
#   chromium       the real browser the review UI tests drive through Playwright
#   wrk            the load generator of the review service's load benchmark (C, so the
#                  client takes little of the cores the server is measured on)
set -euo pipefail
PACKAGES=(dicom3tools poppler-utils orthanc orthanc-dicomweb iproute2 postgresql chromium wrk)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  if [[ " ${missing[*]} " == *" orthanc "* ]] && command -v invoke-rc.d >/dev/null; then
    # The package may start a system Orthanc on every interface; the tests start their
    # own on loopback only, so the service installed here is stopped.
    $SUDO invoke-rc.d orthanc stop >/dev/null 2>&1 || true
  fi
fi
