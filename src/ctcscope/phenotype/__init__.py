"""CTC phenotypes from flow cytometry: FCS → gates → ALK/CK phenotypes, linked to sorted wells.

Reproduces the FACS part of Oulhen et al. 2021 (npj Precis Oncol 5:71,
doi:10.1038/s41698-021-00203-1): Hoechst+ → CD45-APC− → CK-PE / ALK-AF488 quadrants
(ALK+/CK−, ALK−/CK+, ALK+/CK+), 200 CD45+ leukocytes as a control, index-sorted single
cells in 96-well plates, and one homogeneous re-gating of every patient at the end.
"""
from .fcs import FcsFile, Scale, asinh, find_channel, logicle, read_compensation_matrix, read_fcs, spillover_from_keywords
from .gating import Gating, GatingResult, apply_gating, load_gating, parse_gating, study_gating
from .classify import CTC_PHENOTYPES, classify_events, ctc_distribution, event_table, phenotype_counts
from .indexsort import index_sort_locations, join_samples, normalise_well, read_plate_map, sorted_wells
from .simulate_fcs import simulate_acquisition, simulate_sort, simulate_sort_file
from .stage import annotate_obs, run_phenotype_stage

__all__ = [
    "FcsFile", "Scale", "asinh", "find_channel", "logicle", "read_compensation_matrix", "read_fcs",
    "spillover_from_keywords", "Gating", "GatingResult", "apply_gating", "load_gating", "parse_gating",
    "study_gating", "CTC_PHENOTYPES", "classify_events", "ctc_distribution", "event_table", "phenotype_counts",
    "index_sort_locations", "join_samples", "normalise_well", "read_plate_map", "sorted_wells",
    "simulate_sort", "simulate_sort_file", "simulate_acquisition", "run_phenotype_stage", "annotate_obs",
]
