"""The one place that wires the steps together for a patient."""
