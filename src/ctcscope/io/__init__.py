"""Inputs and outputs: sample sheets, BAM counting, count matrices, cohort files.

>>> from ctcscope.io import read_sample_sheet, count_bam, read_counts
"""
from .bam import FILTERS, BamCounts, bam_contigs, check_build, count_bam
from .counts import load_counts, read_counts
from .export import read_cohort, write_copy_number_outputs, write_count_matrix
from .samplesheet import SAMPLE_TYPES, read_sample_sheet

__all__ = [
    "FILTERS",
    "BamCounts",
    "SAMPLE_TYPES",
    "bam_contigs",
    "check_build",
    "count_bam",
    "load_counts",
    "read_cohort",
    "read_counts",
    "read_sample_sheet",
    "write_copy_number_outputs",
    "write_count_matrix",
]
