"""DNA index from the index sort (issue 11): channel choice on real FCS files, G1 peak,
linear vs log parameters, saturation, and the index of simulated sorted cells against the
DNA content they were simulated with."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.phenotype import read_fcs, simulate_sort_file
from ctcscope.phenotype.dna_index import (channel_max, find_dna_channel, g1_peak, well_dna_index)
from ctcscope.phenotype.indexsort import sorted_wells
from ctcscope.phenotype.stage import compute_phenotypes

from conftest import real_data


def test_real_files_without_a_dna_content_channel_get_one_sentence():
    # FlowKit's real ARIA index sort: its DNA dye is 7-AAD, a viability dye
    k = read_fcs(real_data("fcs-flowkit/index_sorted_example.fcs"))
    pnn, dye, note = find_dna_channel(k)
    assert pnn == "" and dye == "7-AAD" and "viability dye" in note and note.count(".") <= 1
    # a FACSDiva B-lineage panel: SYTO 41 stains RNA too
    d = read_fcs(real_data("fcs-fcsparser/FACS_Diva__facs_diva_test.fcs"))
    pnn, dye, note = find_dna_channel(d)
    assert pnn == "" and dye == "SYTO" and "RNA" in note
    # a panel with no DNA dye at all
    f = read_fcs(real_data("fcs-fcsparser/Fortessa__FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs"))
    pnn, dye, note = find_dna_channel(f)
    assert pnn == "" and dye == "" and "no DNA-content channel" in note


def test_real_index_sort_gives_wells_and_a_note_not_an_index():
    k = read_fcs(real_data("fcs-flowkit/index_sorted_example.fcs"))
    wells = sorted_wells(k.metadata, events=k.events(), file=k.name, n_events=k.n_events)
    table, ref = well_dna_index(k, wells)
    assert len(table) == 384 and table["dna_index"].isna().all()
    assert not ref.usable and "7-AAD" in ref.notes[0]
    # named explicitly, the 7-AAD channel is used: B220+ (CD45R) events as the reference
    b220 = k.column("B220")
    table, ref = well_dna_index(k, wells, reference_events=b220 > np.quantile(b220, 0.5), channel="7-AAD")
    assert ref.channel == "BL 695/40-A"
    # live B cells exclude 7-AAD: what it shows of them is background, far broader than a
    # DNA stain's G1 peak, so no index is made from it
    assert not ref.usable and "too broad" in " ".join(ref.notes) and table["dna_index"].isna().all()


def test_real_cd45_events_give_a_g1_peak_of_a_real_dna_stain():
    # SYTO 41 named explicitly on real blood events: CD45-bright leukocytes' peak and CV
    d = read_fcs(real_data("fcs-fcsparser/FACS_Diva__facs_diva_test.fcs"))
    syto, cd45 = d.column("Syto 41"), d.column("CD45")
    peak, cv, n = g1_peak(syto[cd45 > np.quantile(cd45, 0.5)])
    assert n > 5000
    # the mode of the histogram is where the events are densest (hand check: within the
    # central 50 % of the events near it) and the CV is that of a nucleic-acid stain (10-20 %)
    x = syto[cd45 > np.quantile(cd45, 0.5)]
    assert np.quantile(x, 0.1) < peak < np.quantile(x, 0.6)
    assert 0.08 < cv < 0.2


def test_log_amplified_parameters_are_linear():
    # FACSCalibur data1.fcs: FL channels recorded on a 4-decade log amplifier ($PnE = 4,0)
    import flowio

    f = read_fcs(real_data("fcs-flowkit/gate_ref/data1.fcs"))
    assert channel_max(f, "FL1-H") == pytest.approx(1e4)
    raw = np.asarray(flowio.FlowData(str(f.path)).as_array(preprocess=False), dtype=float)
    j = f.pnn.index("FL1-H")
    ch = raw[:, j]
    lin = f.values(compensated=False)[:, j]
    # value = 10 ** (decades * channel / range): a DNA index is a ratio of linear values
    assert np.allclose(lin, 10 ** (4 * ch / 1024), rtol=1e-6)


def test_g1_peak_of_a_known_mixture():
    rng = np.random.default_rng(0)
    g1 = 25000 * np.exp(rng.normal(0, 0.04, 1900))
    g2 = 50000 * np.exp(rng.normal(0, 0.04, 60))
    s = 25000 * (1 + rng.uniform(0, 1, 40))
    peak, cv, n = g1_peak(np.concatenate([g1, g2, s]))
    assert peak == pytest.approx(25000, rel=0.01)
    assert cv == pytest.approx(0.04, abs=0.006)


def _sort(tmp_path, dna, *, n_leuko=200):
    wells = pd.DataFrame({"well": [f"A{i + 1:02d}" for i in range(len(dna))] + ["H12"],
                          "kind": ["ALK-/CK+"] * len(dna) + ["CD45+"],
                          "n_events": [1] * len(dna) + [n_leuko],
                          "dna_index": list(dna) + [1.0]})
    path = tmp_path / "sort.fcs"
    simulate_sort_file(path, wells, seed=3, plate="P1", patient="P1")
    return path


def test_simulated_sort_index_matches_the_simulated_dna_content(tmp_path):
    dna = [1.0, 1.5, 2.0, 3.0, 1.3, 2.6]
    path = _sort(tmp_path, dna)
    sheet = pd.DataFrame({"sample_id": [f"C{i}" for i in range(len(dna))] + ["WBC"],
                          "patient": "P1", "sample_type": ["ctc"] * len(dna) + ["wbc"],
                          "fcs": str(path), "well": [f"A{i + 1:02d}" for i in range(len(dna))] + ["H12"]})
    res = compute_phenotypes(sheet)
    t = res.table.set_index("sample_id")
    ref = res.per_file[0]["dna"]
    assert ref.source == "CD45+ events of the file" and 0.02 < ref.cv < 0.06
    di = t.loc[[f"C{i}" for i in range(len(dna))], "dna_index"].to_numpy(float)
    sd = t.loc[[f"C{i}" for i in range(len(dna))], "dna_index_sd"].to_numpy(float)
    # the simulated staining CV is 4.5 %: every cell within 4 of it, the SD near the leukocytes' CV
    assert np.all(np.abs(np.log(di / np.array(dna))) < 4 * 0.045)
    assert np.all((sd / di > 0.02) & (sd / di < 0.06))


def test_saturated_cell_and_missing_leukocytes(tmp_path):
    path = _sort(tmp_path, [1.0, 11.0], n_leuko=20)  # 11 x G1 is past the 18-bit top
    f = read_fcs(path)
    wells = sorted_wells(f.metadata, file=f.name, n_events=f.n_events)
    table, ref = well_dna_index(f, wells, reference_events=np.zeros(f.n_events, bool))
    # too few leukocytes and no control well named: one sentence, no index
    assert not ref.usable and table["dna_index"].isna().all()
    assert "no CD45+ events" in ref.notes[0]
    # the control well as reference (20 events < 50): still refused, saying why
    ctrl = np.array([int(e) for e in wells.set_index("well").loc["H12", "events"].split(";")])
    table, ref = well_dna_index(f, wells, control_events=ctrl)
    assert "only 20 usable leukocyte control well" in ref.notes[0]
    # a user-given reference works, and the saturated cell is named, not measured
    table, ref = well_dna_index(f, wells, reference_value=25000.0)
    t = table.set_index("well")
    assert t.loc["A01", "dna_index"] == pytest.approx(1.0, abs=0.2)
    assert np.isnan(t.loc["A02", "dna_index"]) and "saturated" in t.loc["A02", "dna_note"]
