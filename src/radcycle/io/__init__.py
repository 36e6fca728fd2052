"""Reading and writing files: DICOM series, RTSTRUCT, SEG, NIfTI, NRRD. Imports domain only."""
