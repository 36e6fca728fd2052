"""Radiomics engines run each in a fresh process (peers with their own interpreter)."""
