"""DICOM reading: scanning folders, assembling series, RTSTRUCT and SEG to masks."""
