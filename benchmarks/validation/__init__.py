"""Validation sources for the copy-number engine (see benchmarks/validate_ploidy.py)."""
