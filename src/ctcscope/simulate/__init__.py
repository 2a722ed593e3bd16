"""Single-cell WGA copy-number data with ground truth, and the demo cohort.

SIMULATED data: every object this package makes is labelled as such (``obs['simulated']``,
``uns['simulation']``, sample ids starting ``SIM-``).

>>> from ctcscope.genome import load_genome
>>> from ctcscope.simulate import random_design, simulate_cohort
>>> sim = simulate_cohort(random_design(30, seed=3), load_genome("hg19", 500_000), seed=3)
>>> sim.adata            # counts + sample sheet, as a real run would have them
>>> sim.truth.samples    # true ploidy, mean CN, WGD, clone, composition per sample
>>> sim.truth.cn         # samples x bins true copy number

Modules: :mod:`.design` (what to simulate), :mod:`.karyotype` (clones and events),
:mod:`.bias` (the technical bias model), :mod:`.counts` (reads per bin and truth),
:mod:`.cohort` (random designs), :mod:`.bam` (BAM writer), :mod:`.writers` (sheets, counts,
truth), :mod:`.demo` (the demo cohort modelled on Oulhen et al. 2021).
"""
from .bam import write_bam, write_bams
from .bias import RunBias
from .cohort import random_design
from .counts import REPORTED_GENES, SimulatedCohort, Truth, simulate_cohort
from .demo import demo_design, make_demo, simulate_demo
from .design import Bias, Clone, Design, Event, Patient, Sample, design_from_dict, load_design, parse_event
from .karyotype import region_mask
from .writers import SimulationFiles, patient_sheet, sample_sheet, write_simulation, write_truth

__all__ = [
    "Bias", "Clone", "Design", "Event", "Patient", "REPORTED_GENES", "RunBias", "Sample", "SimulatedCohort",
    "SimulationFiles", "Truth", "demo_design", "design_from_dict", "load_design", "make_demo", "parse_event",
    "patient_sheet", "random_design", "region_mask", "sample_sheet", "simulate_cohort", "simulate_demo", "write_bam",
    "write_bams", "write_simulation", "write_truth",
]
