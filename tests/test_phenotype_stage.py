"""A simulated 4-colour sort (a real FCS 3.1 file) is classified correctly, end to end."""
from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.phenotype import (classify_events, read_fcs, run_phenotype_stage, simulate_sort, simulate_sort_file,
                                sorted_wells)
from ctcscope.phenotype.simulate_fcs import SPILLOVER

# Patient mixes shaped like the study's Fig. 1c: P41/P43 mostly ALK+/CK-, the others mostly ALK-/CK+
MIX = {
    "P41": ["ALK+/CK-"] * 9 + ["ALK-/CK+"],
    "P45": ["ALK-/CK+"] * 8 + ["ALK+/CK+"] * 3 + ["ALK+/CK-"],
}
OUTSIDE = {"SIM-P41_CTC04", "SIM-P45_CTC02", "SIM-P45_CTC07"}


def _sheet():
    rows = []
    for p, mix in MIX.items():
        for i, ph in enumerate(mix, 1):
            rows.append({"sample_id": f"SIM-{p}_CTC{i:02d}", "patient": p, "sample_type": "ctc", "phenotype": ph,
                         "bam": f"{p}_{i}.bam"})
        rows.append({"sample_id": f"SIM-{p}_WBC", "patient": p, "sample_type": "wbc", "phenotype": "CD45+", "bam": ""})
        rows.append({"sample_id": f"SIM-{p}_germline", "patient": p, "sample_type": "germline", "phenotype": "", "bam": ""})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("sort")
    sheet = simulate_sort(_sheet(), d, seed=7, outside=OUTSIDE)
    return d, sheet


def test_simulated_file_is_real_fcs31(sim):
    d, sheet = sim
    path = d / "P45_sort.fcs"
    assert path.read_bytes()[:6] == b"FCS3.1"
    import flowkit as fk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = fk.Sample(str(path))  # an independent reader opens it
    n_p45 = len(MIX["P45"]) + 200
    assert s.event_count == n_p45
    assert s.pnn_labels == ["FSC-A", "FSC-H", "SSC-A", "V 450/50-A", "B 530/30-A", "YG 582/15-A", "R 670/30-A", "Time"]
    assert s.pns_labels[4] == "ALK;AF488" and s.pns_labels[6] == "CD45;APC"
    f = read_fcs(path)
    assert f.spill_source == "$SPILLOVER"
    np.testing.assert_allclose(f.spill.values, SPILLOVER.values, atol=1e-6)
    assert len(s.get_index_sorted_locations()) == n_p45
    # germline samples are not sorted
    g = sheet[sheet["sample_type"] == "germline"]
    assert (g["fcs"] == "").all() and (g["well"] == "").all()


def test_simulation_is_reproducible(tmp_path):
    wells = pd.DataFrame({"well": ["A01", "A02", "B01"], "kind": ["ALK+/CK-", "ALK-/CK+", "CD45+"], "n_events": [1, 1, 50]})
    a = simulate_sort_file(tmp_path / "a.fcs", wells, seed=11)
    b = simulate_sort_file(tmp_path / "b.fcs", wells, seed=11)
    c = simulate_sort_file(tmp_path / "c.fcs", wells, seed=12)
    h = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.fcs", "b.fcs", "c.fcs")]
    assert h[0] == h[1] != h[2]
    assert a.equals(b) and len(c) == 52


def test_every_event_classified_correctly_with_compensation(sim):
    d, sheet = sim
    for p in MIX:
        f = read_fcs(d / f"{p}_sort.fcs")
        res = classify_events(f)
        wells = sorted_wells(f.metadata, res, file=f.name)
        truth = sheet[sheet["patient"] == p].set_index("well")["sim_phenotype"].drop("", errors="ignore")
        got = wells.set_index("well").loc[truth.index]
        assert (got["phenotype"] == truth).all(), got.loc[got["phenotype"] != truth, "phenotype"]
        # the leukocyte control: one well, 200 events, all CD45+
        wbc = got[truth == "CD45+"]
        assert len(wbc) == 1 and int(wbc["n_events"].iloc[0]) == 200
        assert float(wbc["phenotype_fraction"].iloc[0]) == 1.0
        # and event by event too
        ev = res.phenotype.to_numpy()
        for w, t in truth.items():
            idx = [int(e) for e in str(got.loc[w, "events"]).split(";")]
            assert (ev[idx] == t).all()


def test_without_compensation_alk_cells_look_ck_positive(sim):
    """AF488 spills into the PE detector: uncompensated, ALK+/CK- cells read as double positive."""
    d, sheet = sim
    f = read_fcs(d / "P41_sort.fcs", compensation="none")
    res = classify_events(f, compensation="none")
    wells = sorted_wells(f.metadata, res).set_index("well")
    truth = sheet[(sheet["patient"] == "P41") & (sheet["sim_phenotype"] == "ALK+/CK-")].set_index("well")["sim_phenotype"]
    assert (wells.loc[truth.index, "phenotype"] == "ALK+/CK+").mean() > 0.5


def test_stage_links_sequenced_cells_and_flags_outside(sim, tmp_path):
    d, sheet = sim
    out = tmp_path / "out"
    table = run_phenotype_stage(sheet.drop(columns=["sim_phenotype"]), out)
    for name in ("phenotypes.tsv", "sorted_wells.tsv", "phenotype_summary.tsv", "gates.tsv", "gate_values.tsv",
                 "phenotype.json", "figures/gating_P41_sort.png", "figures/gating_P45_sort.png", "figures/phenotypes.png"):
        assert (out / name).exists(), name
    assert (out / "figures/phenotypes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    t = table.set_index("sample_id")
    sorted_ids = sheet.loc[sheet["well"] != "", "sample_id"]
    assert set(t.index) == set(sorted_ids)  # germline rows are not in the table
    truth = sheet.set_index("sample_id").loc[t.index, "sim_phenotype"]
    assert (t["phenotype"] == truth).all()
    assert set(t.index[~t["in_gate"]]) == OUTSIDE
    assert t.loc[sorted(OUTSIDE), "flag"].str.startswith("outside the current gates").all()
    assert t.loc["SIM-P45_CTC12", "phenotype_sheet"] == "ALK+/CK-" and t.loc["SIM-P45_CTC12", "flag"] == ""
    assert t.loc["SIM-P41_WBC", "phenotype"] == "CD45+" and t.loc["SIM-P41_WBC", "n_events"] == 200
    assert {"Hoechst", "CD45", "CK", "ALK"} <= set(t.columns) and "bam" in t.columns
    on_disk = pd.read_csv(out / "phenotypes.tsv", sep="\t")
    assert list(on_disk["sample_id"]) == list(table["sample_id"])
    # Fig. 1c counts at the sequenced level exclude discarded cells
    s = pd.read_csv(out / "phenotype_summary.tsv", sep="\t")
    seq = s[(s["level"] == "sequenced") & (s["patient"] == "P45")].set_index("phenotype")["count"]
    assert seq["ALK-/CK+"] == 8 - 2 and seq["ALK+/CK+"] == 3 and seq["ALK+/CK-"] == 1 and seq["outside"] == 2
    ev = s[(s["level"] == "events") & (s["patient"] == "P45")].set_index("phenotype")["count"]
    assert ev["CD45+"] == 200
    # gate values carry their rules
    gv = pd.read_csv(out / "gate_values.tsv", sep="\t")
    assert gv["rule"].str.contains("median \\+ 6×MAD").sum() == 4  # x/y split per file
    # the AnnData obs gets the re-gated phenotype and the in-gate flag
    from ctcscope.phenotype import annotate_obs

    obs = annotate_obs(sheet.drop(columns=["sim_phenotype"]).set_index("sample_id"), table)
    assert obs.loc["SIM-P41_CTC04", "phenotype"] == "outside" and obs.loc["SIM-P41_CTC04", "phenotype_sheet"] == "ALK+/CK-"
    assert not obs.loc["SIM-P41_CTC04", "phenotype_in_gate"] and obs.loc["SIM-P41_germline", "phenotype_in_gate"]
    assert obs["phenotype_in_gate"].sum() == len(obs) - len(OUTSIDE)
    # same inputs → same tables
    table2 = run_phenotype_stage(sheet.drop(columns=["sim_phenotype"]), tmp_path / "out2", figures=False)
    pd.testing.assert_frame_equal(table, table2)


def test_plate_map_instead_of_sheet_wells(sim, tmp_path):
    d, sheet = sim
    pm = sheet.loc[sheet["well"] != "", ["sample_id", "plate", "well"]]
    pm.to_csv(tmp_path / "map.tsv", sep="\t", index=False)
    bare = sheet.drop(columns=["sim_phenotype", "plate", "well", "fcs"])
    files = [d / "P41_sort.fcs", d / "P45_sort.fcs"]
    table = run_phenotype_stage(bare, tmp_path / "out", plate_map=tmp_path / "map.tsv", fcs=files, figures=False)
    truth = sheet.set_index("sample_id")["sim_phenotype"]
    assert (table.set_index("sample_id")["phenotype"] == truth.loc[table["sample_id"]]).all()
    assert len(table) == len(pm)


def test_sample_in_a_well_that_was_not_sorted(sim, tmp_path):
    d, sheet = sim
    bad = sheet.drop(columns=["sim_phenotype"]).copy()
    i = bad.index[bad["sample_id"] == "SIM-P41_CTC02"][0]
    bad.loc[i, "well"] = "H12"
    with pytest.raises(InputError, match="sample SIM-P41_CTC02 is in well H12, but P41_sort.fcs has no sorted event") as e:
        run_phenotype_stage(bad, tmp_path / "o", figures=False)
    assert "\n" not in str(e.value)


def test_cli_phenotype(sim, tmp_path):
    from typer.testing import CliRunner

    from ctcscope.cli import app

    d, sheet = sim
    sh = sheet.drop(columns=["sim_phenotype"]).copy()
    sh["fcs"] = [f"{p}_sort.fcs" if p else "" for p in sh["fcs"].map(lambda x: x and x.split("/")[-1][:-9])]
    sh.to_csv(d / "sheet.csv", index=False)  # relative fcs paths, resolved against the sheet
    r = CliRunner().invoke(app, ["phenotype", "--samples", str(d / "sheet.csv"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "outside the current gates" in r.output
    t = pd.read_csv(tmp_path / "o" / "phenotypes.tsv", sep="\t")
    assert (~t["in_gate"]).sum() == len(OUTSIDE)
    # bad inputs: one sentence, exit status 2
    (tmp_path / "x.fcs").write_text("hello")
    r = CliRunner().invoke(app, ["phenotype", "--fcs", str(tmp_path / "x.fcs"), "--out", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "is not an FCS file" in r.output
    (tmp_path / "g.yaml").write_text("gates: [ {id: a\n")
    r = CliRunner().invoke(app, ["phenotype", "--fcs", str(d / "P41_sort.fcs"), "--gating", str(tmp_path / "g.yaml"),
                                 "--out", str(tmp_path / "o3")])
    assert r.exit_code == 2 and "is not valid YAML" in r.output
    r = CliRunner().invoke(app, ["phenotype", "--samples", str(d / "sheet.csv"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--overwrite" in r.output
