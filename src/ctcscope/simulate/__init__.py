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
:mod:`.cohort` (random designs).
"""
from .bias import RunBias
from .cohort import random_design
from .counts import REPORTED_GENES, SimulatedCohort, Truth, simulate_cohort
from .design import Bias, Clone, Design, Event, Patient, Sample, design_from_dict, load_design, parse_event
from .karyotype import region_mask

__all__ = [
    "Bias", "Clone", "Design", "Event", "Patient", "REPORTED_GENES", "RunBias", "Sample", "SimulatedCohort", "Truth",
    "design_from_dict", "load_design", "parse_event", "random_design", "region_mask", "simulate_cohort",
]
