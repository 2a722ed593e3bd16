"""Driver copy-number alterations by signalling pathway (the study's Fig. 4 and Supp. Fig. 3)."""
from .catalogue import Catalogue, builtin_catalogue, load_catalogue, read_catalogue_file
from .events import driver_events
from .genes import CallThresholds, classify_cn, gene_anndata, gene_copy_number

__all__ = ["Catalogue", "CallThresholds", "builtin_catalogue", "classify_cn", "driver_events", "gene_anndata",
           "gene_copy_number", "load_catalogue", "read_catalogue_file"]
from .stage import run_drivers_stage  # noqa: E402
from .summaries import (driver_matrix, events_per_patient, events_per_sample, gene_frequencies,  # noqa: E402
                        group_comparison, pathway_summary, recurrence)

__all__ += ["driver_matrix", "events_per_patient", "events_per_sample", "gene_frequencies", "group_comparison",
            "pathway_summary", "recurrence", "run_drivers_stage"]
