"""IBSI 1 compliant radiomics: image processing and feature families.

``compute_features(volume, mask, config)`` returns a dict keyed by the IBSI
reference ``tag`` names; ``radiomics_for_lesion`` uses the ``default`` config.
"""

from radcycle.imaging.radiomics.configs import CONFIGS, RadiomicsConfig, get_config
from radcycle.imaging.radiomics.features import compute_features, radiomics_for_lesion

__all__ = ["CONFIGS", "RadiomicsConfig", "compute_features", "get_config", "radiomics_for_lesion"]
