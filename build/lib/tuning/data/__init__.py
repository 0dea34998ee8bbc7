"""The data a search trains on: built-in datasets, CSV files, and the preprocessing pipeline."""
