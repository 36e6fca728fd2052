"""DICOMweb and DIMSE clients and the listener."""
