"""De-identification of DICOM and FHIR (PS3.15 Annex E).

Keyed pseudonyms, consistent UID remapping, date shifting, and the leak checker.

Modules:
    profile     Table E.1-1 as data (``profile_table.csv``) and the Annex E options
    keys        the key file, HMAC pseudonyms, keyed UIDs and per-patient date shift
    phi         identifying strings of a data set and the matcher that masks them
    dicom_deid  de-identify one pydicom data set
    pixels      burned-in annotation rules and ultrasound cleaning
    private     the safe private attribute list
    writer      a direct writer for the de-identified data sets
    batch       files and folder trees in parallel, output layout, encrypted manifest
    fhir_deid   FHIR R4 Bundle de-identification with the same key
    check       the leak checker
"""
