"""Same inputs, same results: a whole run (copy number → clusters → drivers → resistance)
gives byte-identical tables with one worker process or two, and in any output folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from ctcscope.genome import load_genome
from ctcscope.pipeline import PipelineOptions, run_pipeline
from ctcscope.simulate import random_design, simulate_cohort, write_simulation

TABLES = ("cells.tsv", "segments.seg", "genes.tsv", "drivers.tsv", "pathways.tsv", "driver_frequencies.tsv",
          "clusters.tsv", "diversity.tsv", "altered_regions.tsv", "resistance.json", "resistance.tsv")

PATIENTS = """patients:
  - id: P1
    fusion: EML4-ALK
    variant: v3
    treatments:
      - {drug: crizotinib, months: 9, best_response: PR}
      - {drug: lorlatinib, months: 4, best_response: PR}
    mutations:
      - {name: G1202R+L1196M, found_in: [SIM-P1_CTC01, ctDNA]}
  - id: P2
    treatments:
      - {drug: alectinib, months: 12, best_response: PR}
    mutations:
      - {name: G1202R, found_in: [biopsy]}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("repro")
    genome = load_genome("hg19", 1_000_000)
    sim = simulate_cohort(random_design(8, seed=3, genome=genome, pools_per_patient=0), genome, seed=3)
    files = write_simulation(sim, base / "input")
    (base / "input" / "patients.yaml").write_text(PATIENTS)
    outs = {}
    for workers in (1, 2):
        out = base / f"run_w{workers}"
        run_pipeline(files.samples, genome, out, counts=files.counts, workers=workers, quiet=True,
                     options=PipelineOptions(patients=base / "input" / "patients.yaml", report=False))
        outs[workers] = out
    return outs


@pytest.mark.parametrize("name", TABLES)
def test_one_or_two_workers_same_bytes(runs, name):
    a, b = (Path(runs[w]) / name for w in (1, 2))
    assert a.stat().st_size > 0
    assert a.read_bytes() == b.read_bytes(), f"{name} differs between --workers 1 and --workers 2"


def test_the_run_is_not_trivial(runs):
    """The compared tables carry real results: clusters, driver events, a resistance reading."""
    import json

    import pandas as pd

    out = runs[1]
    assert len(pd.read_csv(out / "clusters.tsv", sep="\t")) >= 4
    assert len(pd.read_csv(out / "drivers.tsv", sep="\t")) > 0
    doc = json.loads((out / "resistance.json").read_text())
    assert [p["patient"] for p in doc["patients"]] == ["P1", "P2"]
    # inputs from the output folder are named relative to it (the document does not depend on the folder)
    assert {f["path"] for f in doc["run"]["inputs"]} >= {"drivers.tsv", "cells.tsv"}


def test_every_step_of_the_run_has_its_provenance_block(runs):
    """The report's methods listed "cluster —" with no command or time: its run.json block was bare."""
    import json

    steps = json.loads((Path(runs[1]) / "run.json").read_text())["steps"]
    assert {"copy_number", "cluster", "drivers", "resistance"} <= set(steps)
    for name, block in steps.items():
        assert block.get("command") and block.get("started") and block.get("versions"), name


def test_the_patient_sheet_is_a_checksummed_input_of_the_resistance_step(runs):
    """README: run.json holds the input checksums of every step; the patient sheet was missing."""
    import hashlib
    import json

    sheet = Path(runs[1]).parent / "input" / "patients.yaml"
    block = json.loads((Path(runs[1]) / "run.json").read_text())["steps"]["resistance"]
    got = {Path(i["path"]).name: i.get("sha256") for i in block["inputs"]}
    assert got.get("patients.yaml") == hashlib.sha256(sheet.read_bytes()).hexdigest()


def test_run_json_blocks_keep_their_inputs_as_lists(runs):
    """The drivers block's inputs reached run.json as the string "[]" (through h5ad)."""
    import json

    steps = json.loads((Path(runs[1]) / "run.json").read_text())["steps"]
    for name, block in steps.items():
        assert isinstance(block.get("inputs", []), list), (name, block.get("inputs"))


def test_the_sample_sheet_is_a_checksummed_input_when_the_cli_reads_it(tmp_path):
    """The CLI parses the sheet first; run.json then said "samples": null and had no checksum for it."""
    import hashlib
    import json

    from typer.testing import CliRunner

    from ctcscope.cli import app

    genome = load_genome("hg19", 1_000_000)
    sim = simulate_cohort(random_design(2, seed=4, genome=genome, pools_per_patient=0), genome, seed=4)
    files = write_simulation(sim, tmp_path / "input")
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["run", "--counts", str(files.counts), "--samples", str(files.samples), "--genome",
                                 "hg19", "--bin-size", "1Mb", "--out", str(out), "--copy-number-only", "-q"])
    assert r.exit_code == 0, r.output
    block = json.loads((out / "run.json").read_text())["steps"]["copy_number"]
    assert block["parameters"]["samples"] == str(files.samples)
    sums = {Path(i["path"]).name: i["sha256"] for i in block["inputs"]}
    assert sums[Path(files.samples).name] == hashlib.sha256(Path(files.samples).read_bytes()).hexdigest()
