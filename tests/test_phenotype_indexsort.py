"""Index sort: real BD exports give the expected well → event tables."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.phenotype.fcs import read_fcs
from ctcscope.phenotype.indexsort import (index_sort_locations, join_samples, normalise_well, plate_shape,
                                          sorted_wells)


def test_aria_example_matches_expected_table(data_path):
    """Kawameicha/indexSort's ARIA example: 96 events, keywords → the package's expected table."""
    kw = json.loads(data_path("indexsort-aria-example/inputARIA_keywords.json").read_text())
    ev = pd.read_csv(data_path("indexsort-aria-example/inputARIA_exprs.tsv"), sep="\t")
    exp = pd.read_csv(data_path("indexsort-aria-example/indexARIA_expected.tsv"), sep="\t", dtype={"IdxCol": str})
    wells = sorted_wells(kw, events=ev, file="inputARIA")
    assert len(wells) == len(exp) == 96
    assert (wells["n_events"] == 1).all()
    exp["well"] = exp["IdxRow"] + exp["IdxCol"].str.zfill(2)
    got = wells.set_index("well").loc[exp["well"]]
    for c in ["FSC", "SSC", "APC", "FITC", "PerCP", "PI"]:
        np.testing.assert_allclose(got[c].to_numpy(), exp[c].to_numpy(), rtol=1e-5)
    # row/col letters and numbers agree with the expected IdxRow/IdxCol
    assert [w[0] for w in got.index] == list(exp["IdxRow"])


def test_flowkit_index_sort_384_wells(data_path):
    path = data_path("fcs-flowkit/index_sorted_example.fcs")
    f = read_fcs(path)
    loc = index_sort_locations(f.metadata)
    assert plate_shape(f.metadata) == (16, 24)
    assert len(loc) == 384 == f.n_events
    assert loc["well"].nunique() == 384  # every well of the 16×24 plate exactly once
    assert set(loc["well"]) == {f"{chr(65 + r)}{c + 1:02d}" for r in range(16) for c in range(24)}
    assert (loc["plate"] == "A012345678").all()
    # same event → (row, col) pairs as FlowKit's own reader (an independent implementation)
    import flowkit as fk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fk_locs = fk.Sample(str(path)).get_index_sorted_locations()
    assert [(int(r), int(c)) for r, c in fk_locs] == list(zip(loc["row"], loc["col"]))
    # the keywords are numbered 1..16 and must be read in numeric, not text, order
    assert loc.loc[0, "well"] == "A01" and loc.loc[27, "well"] == "B21"
    # each well carries its event's (compensated) intensities
    w = sorted_wells(f.metadata, events=f.events(), file=f.name)
    e = int(w.loc[w["well"] == "B21", "events"].iloc[0])
    assert e == 27
    assert w.loc[w["well"] == "B21", "BL 530/30-A"].iloc[0] == pytest.approx(f.events().loc[27, "BL 530/30-A"])


def test_normalise_well():
    assert normalise_well("a1") == "A01"
    assert normalise_well("H12") == "H12"
    assert normalise_well("P24", (16, 24)) == "P24"
    assert normalise_well(" b-07 ") == "B07"
    with pytest.raises(InputError, match="outside a 8×12 plate"):
        normalise_well("I01", (8, 12))
    with pytest.raises(InputError, match="not a plate position"):
        normalise_well("well 3")


def test_location_keyword_problems():
    with pytest.raises(InputError, match="not an index-sort export"):
        index_sort_locations({"$TOT": "3"})
    with pytest.raises(InputError, match="some are missing"):
        index_sort_locations({"INDEX SORTING LOCATIONS_1": "0,0;", "INDEX SORTING LOCATIONS_3": "0,1;"})
    with pytest.raises(InputError, match="not 'row,column'"):
        index_sort_locations({"INDEX SORTING LOCATIONS_1": "0,0;0-1;"})
    with pytest.raises(InputError, match="beyond the 8×12 plate"):
        index_sort_locations({"INDEX SORTING LOCATIONS_1": "8,0;", "INDEX SORTING DEVICE_DIMENSION": "8:12"})
    with pytest.raises(InputError, match="SORTED LOCATION COUNT says 5"):
        index_sort_locations({"INDEX SORTING LOCATIONS_1": "0,0;", "INDEX SORTING SORTED LOCATION COUNT": "5"})
    with pytest.raises(InputError, match="holds only 1 events"):
        sorted_wells({"INDEX SORTING LOCATIONS_1": "0,0;0,1;"}, n_events=1)


def test_join_needs_the_well_to_exist():
    wells = pd.DataFrame({"file": "s.fcs", "fcs_path": "/x/s.fcs", "plate": "P1", "well": ["A01", "A02"],
                          "n_events": 1, "phenotype": ["ALK+/CK-", "outside"]})
    s = pd.DataFrame({"sample_id": ["c1", "c2"], "plate": ["P1", "P1"], "well": ["a1", "A2"]})
    j = join_samples(wells, s)
    assert list(j["phenotype"]) == ["ALK+/CK-", "outside"]
    bad = pd.DataFrame({"sample_id": ["c9"], "plate": ["P1"], "well": ["H12"]})
    with pytest.raises(InputError, match="sample c9 is in well H12, but .* has no sorted event in that well") as e:
        join_samples(wells, bad)
    assert "\n" not in str(e.value)
