"""The drivers step end to end on an output folder: files, contract columns, CLI, errors."""
from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ctcscope import _atomic
from ctcscope.cli import app
from ctcscope.drivers import run_drivers_stage
from ctcscope.drivers.stage import OUTPUTS
from ctcscope.genome import load_genome

from _drivers_study import study_adata

GENES_CONTRACT = ["sample_id", "patient", "gene", "chrom", "start", "end", "copy_number", "relative_cn", "state",
                  "n_bins", "confidence", "low_confidence_reason"]
DRIVERS_CONTRACT = ["sample_id", "patient", "sample_type", "phenotype", "treatment_group", "gene", "chrom", "start",
                    "end", "state", "copy_number", "ploidy", "relative_cn", "role", "pathways", "confidence", "source"]


@pytest.fixture(scope="module")
def genome():
    return load_genome("hg19", 500_000)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, genome):
    out = _atomic.prepare_output_dir(tmp_path_factory.mktemp("run") / "out")
    a = study_adata(genome, seed=2, jitter=0.2, drop=0.02)
    a = run_drivers_stage(a, genome, out)
    return out, a


def test_files_and_contract_columns(run_dir):
    out, a = run_dir
    for f in ("genes.tsv", "drivers.tsv", "pathways.tsv", "driver_frequencies.tsv", "driver_samples.tsv",
              "driver_patients.tsv", "driver_recurrence.tsv", "driver_groups.tsv", "driver_groups_summary.tsv",
              "genes.h5ad", "figures/drivers.png", "figures/drivers.svg", "figures/drivers.json",
              "figures/drivers_groups.png", "figures/drivers_groups.svg"):
        assert (out / f).stat().st_size > 0, f
    genes = pd.read_csv(out / "genes.tsv", sep="\t")
    assert genes.columns[:len(GENES_CONTRACT)].tolist() == GENES_CONTRACT
    assert set(genes.state) <= {"homdel", "loss", "neutral", "gain", "amp", "unknown"}
    drivers = pd.read_csv(out / "drivers.tsv", sep="\t", keep_default_na=False)
    assert drivers.columns[:len(DRIVERS_CONTRACT)].tolist() == DRIVERS_CONTRACT
    assert set(drivers.role) <= {"activating", "loss_of_function", "ambiguous"}
    met = drivers[(drivers.gene == "MET") & (drivers.sample_id == "P41_CTC01")].iloc[0]
    assert (met.state, met.copy_number, met.ploidy, met.treatment_group) == ("amp", 12, 3, "lorlatinib")
    assert not list(out.glob("**/.*.tmp-*"))   # nothing half-written left behind
    g = ad.read_h5ad(out / "genes.h5ad")
    assert g.n_obs == a.n_obs and "MET" in g.var_names
    m = json.loads((out / "figures/drivers.json").read_text())
    assert len(m["z"]) == len(m["rows"]) and len(m["z"][0]) == len(m["columns"])


def test_uns_and_run_json(run_dir, tmp_path):
    out, a = run_dir
    d = a.uns["drivers"]
    assert d["parameters"]["catalogue_version"] and d["n_events"] > 0
    assert set(d["groups"]["category"]) == {"crizotinib", "lorlatinib", "shared"}
    assert d["run"]["step"] == "drivers"
    a.write_h5ad(tmp_path / "with_drivers.h5ad")       # uns['drivers'] must be storable
    back = ad.read_h5ad(tmp_path / "with_drivers.h5ad").uns["drivers"]
    assert back["n_events"] == d["n_events"] and back["parameters"]["genome"] == "hg19"
    run = json.loads((out / "run.json").read_text())
    assert list(run["steps"]) == ["drivers"] and run["steps"]["drivers"]["research_use_only"]


def test_run_json_of_the_run_workflow_is_extended(tmp_path, genome):
    out = _atomic.prepare_output_dir(tmp_path / "o")
    _atomic.write_json(out / "run.json", {"tool": "ctcscope", "version": "x", "steps": {"copy_number": {"command": "run"}}})
    a = study_adata(genome)
    a.uns["ctcscope"] = {"parameters": {"genome": {"build": "hg19", "bin_size": 500_000}}}   # as `ctcscope run` writes it
    run_drivers_stage(a, None, out, figures=False)
    run = json.loads((out / "run.json").read_text())
    assert list(run["steps"]) == ["copy_number", "drivers"] and run["version"] == "x"


def test_patient_sheet_gives_the_groups(tmp_path, genome):
    sheet = tmp_path / "patients.yaml"
    sheet.write_text(
        "patients:\n"
        "  - {id: P46, treatments: [{drug: crizotinib, months: 13.7}]}\n"
        "  - {id: P49, treatments: [{drug: crizotinib, months: 3.6}]}\n"
        "  - {id: P45, treatments: [{drug: crizotinib, months: 9.5}, {drug: lorlatinib, months: 3.6}]}\n"
        "  - {id: P41, treatments: [{drug: ceritinib, months: 16}, {drug: lorlatinib, months: 13.3}]}\n")
    a = study_adata(genome)
    del a.obs["treatment_group"]
    out = _atomic.prepare_output_dir(tmp_path / "o")
    a = run_drivers_stage(a, genome, out, patients=sheet, figures=False)
    assert a.obs.loc["P45_CTC01", "treatment_group"] == "lorlatinib"
    g = pd.read_csv(out / "driver_groups_summary.tsv", sep="\t")
    assert set(g.category) == {"crizotinib", "lorlatinib", "shared"}


def test_rerun_gives_identical_tables(tmp_path, genome, run_dir):
    out, _ = run_dir
    out2 = _atomic.prepare_output_dir(tmp_path / "again")
    run_drivers_stage(study_adata(genome, seed=2, jitter=0.2, drop=0.02), genome, out2)
    for f in ("genes.tsv", "drivers.tsv", "pathways.tsv", "driver_groups.tsv", "figures/drivers.json"):
        assert (out / f).read_bytes() == (out2 / f).read_bytes(), f


def test_cli_drivers_with_user_catalogue(tmp_path, genome):
    out = _atomic.prepare_output_dir(tmp_path / "cli")
    a = study_adata(genome)
    a.uns["segments"] = a.uns["segments"].astype({"chrom": str})
    _atomic.write_h5ad(out / "cohort.h5ad", a)
    cat = tmp_path / "mine.tsv"
    cat.write_text("gene\trole\tpathways\nMET\tactivating\tBypass\nRB1\tloss_of_function\tCell cycle\n")
    r = CliRunner().invoke(app, ["drivers", str(out), "--catalogue", str(cat), "--catalogue-mode", "replace"])
    assert r.exit_code == 0, r.output
    d = pd.read_csv(out / "drivers.tsv", sep="\t")
    assert set(d.gene) == {"MET", "RB1"}
    assert set(d[d.gene == "MET"].pathways) == {"Bypass"}
    pw = pd.read_csv(out / "pathways.tsv", sep="\t")
    assert pw.pathway.tolist() == ["Bypass", "Cell cycle"] or set(pw.pathway) == {"Bypass", "Cell cycle"}


@pytest.mark.parametrize("args,message", [
    (["--catalogue", "{bad}"], "unknown role"),
    (["--group-by", "drug"], "no obs column 'drug'"),
    (["--catalogue-mode", "merge"], "catalogue mode 'merge' is not known"),
])
def test_cli_errors_are_one_sentence(tmp_path, genome, args, message):
    out = _atomic.prepare_output_dir(tmp_path / "cli")
    _atomic.write_h5ad(out / "cohort.h5ad", study_adata(genome))
    bad = tmp_path / "bad.tsv"
    bad.write_text("gene\trole\nMET\tturbo\n")
    args = [x.replace("{bad}", str(bad)) for x in args]
    r = CliRunner().invoke(app, ["drivers", str(out), *args])
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_cli_refuses_a_folder_without_cohort(tmp_path):
    r = CliRunner().invoke(app, ["drivers", str(tmp_path)])
    assert r.exit_code == 2 and "no cohort.h5ad" in r.output


def test_outputs_table_is_complete():
    assert {"genes", "drivers", "pathways"} <= set(OUTPUTS)


def test_table_writer_quotes_awkward_ids(tmp_path):
    from ctcscope.drivers.stage import _write_table

    df = pd.DataFrame({"sample_id": ["a\tb", 'c"d', "plain"], "copy_number": [2.0, float("nan"), 1 / 3]})
    _write_table(tmp_path / "t.tsv", df)
    back = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    assert back.sample_id.tolist() == ["a\tb", 'c"d', "plain"]
    assert np.isnan(back.copy_number[1]) and back.copy_number[2] == 0.3333
