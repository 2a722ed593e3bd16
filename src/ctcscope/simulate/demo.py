"""The demo cohort: SIMULATED data modelled on Oulhen et al. 2021.

Oulhen M, Pawlikowska P, Tayoun T, et al. Circulating tumor cell copy-number heterogeneity
in ALK-rearranged non-small-cell lung cancer resistant to ALK inhibitors. npj Precision
Oncology 2021;5:71. doi:10.1038/s41698-021-00203-1.

The recipe is data (``data/demo_oulhen2021.yaml``) that reads like the study's design:
six patients — four progressing on crizotinib (P43-, P46-, P49-, P50-like; PFS 4.7, 13.7,
3.6, 9.3 months) and two on lorlatinib after earlier ALK inhibitors (P41-, P45-like) — with
the study's phenotype mix, CTC pools of 2, 5 and 10 cells, a 200-cell leukocyte control and
a germline sample per patient, one biopsy, ploidies 2n-6n with whole-genome doublings, five
normal-like epithelial cells and the study's recurrent gains and losses.  Every id starts
with ``SIM-`` and every sheet says ``simulated: true``.

>>> files = make_demo("demo-input")           # doctest: +SKIP
>>> files.sim.adata                           # counts + sample sheet, ready for copy-number calling
"""
from __future__ import annotations

import os
from importlib import resources

from ..genome import load_genome
from .counts import SimulatedCohort, simulate_cohort
from .design import Design, design_from_dict
from .writers import SimulationFiles, write_simulation

#: Seed of the published demo (same seed → same cohort, byte for byte in counts).
DEMO_SEED = 2021
DEMO_RECIPE = "demo_oulhen2021.yaml"
CITATION = ("Oulhen M, Pawlikowska P, Tayoun T, et al. npj Precis Oncol 2021;5:71. "
            "doi:10.1038/s41698-021-00203-1")


def demo_recipe() -> dict:
    """The demo recipe as plain data (parsed YAML)."""
    import yaml

    ref = resources.files("ctcscope.simulate").joinpath("data", DEMO_RECIPE)
    return yaml.safe_load(ref.read_text(encoding="utf-8"))


def demo_design() -> Design:
    """The demo cohort's :class:`~ctcscope.simulate.design.Design`."""
    return design_from_dict(demo_recipe())


def simulate_demo(seed: int = DEMO_SEED, build: str = "hg19", bin_size: int = 500_000) -> SimulatedCohort:
    """Simulate the demo cohort in memory (no files)."""
    return simulate_cohort(demo_design(), load_genome(build, bin_size), seed=seed)


def make_demo(out_dir: str | os.PathLike, seed: int = DEMO_SEED, *, build: str = "hg19", bin_size: int = 500_000,
              bam: bool = False, overwrite: bool = False, workers: int | None = 1) -> SimulationFiles:
    """Simulate the demo cohort and write its sheets, counts (optionally BAMs) and truth.

    Returns the written paths and, as ``.sim``, the :class:`SimulatedCohort` whose
    ``.adata`` can go straight into copy-number calling.
    """
    sim = simulate_demo(seed=seed, build=build, bin_size=bin_size)
    return write_simulation(sim, out_dir, bam=bam, overwrite=overwrite, workers=workers)
