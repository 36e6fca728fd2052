"""Matching lesions across studies, tracking identifiers, trajectories."""
