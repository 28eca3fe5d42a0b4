"""The data-quality gate that decides whether a run is good."""
