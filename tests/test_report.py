"""The HTML report: built from output folders that follow the data contract exactly.

The folders are written by :func:`ctcscope.report.testing.write_synthetic_run`, whose
truth (ploidy, clones, profiles) the report's numbers are checked against.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.report import build_report, collect_outputs
from ctcscope.report.build import SECTIONS, plotly_bundle, safe_json
from ctcscope.report.profiles import display_grid, pack_uint16, profile_payload, unpack_uint16
from ctcscope.report.summaries import choose_profiles, group_comparison, ploidy_counts
from ctcscope.report.testing import write_synthetic_run

XSS_SAMPLE = "<img src=x onerror=alert(1)>"
XSS_PATIENT = '"><script>alert(2)</script>'
XSS_NOTE = "</script><script>alert(3)</script>"


class _Page(HTMLParser):
    """Collects tags, attributes, scripts and visible text of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.text: list[str] = []
        self._in_script: dict | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script, self._buf = a, []

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script, "".join(self._buf)))
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._buf.append(data)
        else:
            self.text.append(data)


def _parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    truth = write_synthetic_run(out, n_cells=30, n_patients=3, seed=11)
    page = build_report(out)
    return out, truth, page


@pytest.fixture(scope="module")
def xss_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xss")
    truth = write_synthetic_run(out, n_cells=12, n_patients=2, seed=3, sample_ids=[XSS_SAMPLE],
                                patient_ids=["P1", XSS_PATIENT], first_line=XSS_NOTE)
    return out, truth, build_report(out, static_fallback=False)


def test_every_section_and_nothing_external(full_run):
    out, _, page = full_run
    html = page.read_text(encoding="utf-8")
    p = _parse(html)
    ids = {a.get("id") for _, a in p.tags}
    for sid, _ in SECTIONS:
        assert sid in ids, sid
    # no "not run" note when every step ran
    assert "data-notrun" not in html
    # nothing is loaded from elsewhere: every src/href is inline or an in-page anchor
    for tag, a in p.tags:
        for attr in ("src", "href"):
            if attr in a:
                assert a[attr].startswith(("data:", "#")), (tag, a[attr][:60])
        assert tag not in ("link", "iframe", "object", "embed", "base")
    assert "simulated-banner" in ids and "research-use" in ids
    # every interactive figure has a static fallback for readers without JavaScript
    figs = re.findall(r'data-fig="([a-z_]+)"', html)
    noscript = re.findall(r'<noscript><img class="figimg" alt="static figure ([a-z_]+)" src="data:image/png;base64,', html)
    # (the hoverable clustering heatmap's static form is the cohort step's PNG, shown above it)
    assert len(figs) >= 8 and [f for f in figs if f != "cohort_heatmap"] == noscript
    assert "cohort_heatmap" in figs and 'alt="heatmap.png"' in html
    assert 'alt="integer copy number of the embedded samples"' in html


def test_only_ctcscope_scripts_pinned_by_csp(full_run):
    _, _, page = full_run
    html = page.read_text(encoding="utf-8")
    p = _parse(html)
    code = [s for a, s in p.scripts if a.get("type") != "application/json"]
    data = [s for a, s in p.scripts if a.get("type") == "application/json"]
    assert len(data) == 1 and len(code) == 2
    assert code[0] == plotly_bundle()  # the shipped plotly.js bundle, byte for byte
    own = (Path(__file__).parents[1] / "src/ctcscope/report/static/report.js").read_text(encoding="utf-8")
    assert code[1] == own
    assert all(not a.get("src") for a, _ in p.scripts)
    # no inline event handler and no javascript: URL anywhere
    for _, a in p.tags:
        assert not any(k.startswith("on") for k in a), a
        assert not any(str(v).strip().lower().startswith("javascript:") for v in a.values() if v)
    csp = next(a["content"] for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    hashes = set(re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", csp))
    assert hashes == {base64.b64encode(hashlib.sha256(c.encode()).digest()).decode() for c in code}
    assert "connect-src 'none'" in csp and "default-src 'none'" in csp


def test_user_strings_are_text_not_markup(xss_run):
    out, _, page = xss_run
    html = page.read_text(encoding="utf-8")
    for s in (XSS_SAMPLE, XSS_PATIENT, XSS_NOTE):
        assert s not in html  # never raw
    p = _parse(html)
    text = "".join(p.text)
    # shown as text (entity-decoded by the parser): sample id, patient id, a drug name
    assert XSS_SAMPLE in text and XSS_NOTE in text and f"Patient {XSS_PATIENT}" in text
    assert not any(t == "img" and "onerror" in a for t, a in p.tags)
    assert [s for a, s in p.scripts if a.get("type") != "application/json"] == \
        [plotly_bundle(), (Path(__file__).parents[1] / "src/ctcscope/report/static/report.js").read_text()]
    # the embedded JSON carries the ids escaped, and parses back to the exact strings
    blob = next(s for a, s in p.scripts if a.get("type") == "application/json")
    assert "<" not in blob and ">" not in blob and "&" not in blob
    data = json.loads(blob)
    ids = [s["id"] for s in data["profiles"]["samples"]]
    assert XSS_SAMPLE in ids
    assert XSS_PATIENT in data["patients"]
    qc = data["tables"]["qc"]
    assert XSS_SAMPLE in [r[0] for r in qc["rows"]]
    # plotly renders some tags in labels: user strings reach plotly entity-escaped
    names = json.dumps(data["figures"])
    assert XSS_SAMPLE not in names and "&lt;img src=x onerror=alert(1)&gt;" in names


def test_safe_json_cannot_close_script():
    s = safe_json({"a": "</script><script>alert(1)</script>", "b": float("nan"), "c": "&\u2028"})
    assert "</" not in s and "<" not in s and "&" not in s
    back = json.loads(s)
    assert back == {"a": "</script><script>alert(1)</script>", "b": None, "c": "&\u2028"}


def test_numbers_match_truth(full_run):
    out, truth, _ = full_run
    obs = truth["obs"]
    res = collect_outputs(out)
    pc = ploidy_counts(res.obs)
    ok = obs["sample_type"].astype(str).isin(["ctc", "ctc_pool", "biopsy"]) & obs["qc_pass"]
    if "normal_like" in obs:   # normal-like "CTCs" are not tumour cells (as in clustering, drivers, resistance)
        ok &= ~obs["normal_like"].fillna(False).astype(bool)
    expect = obs.loc[ok].groupby(["patient", "ploidy"]).size()
    got = pc.set_index(["patient", "ploidy"])["n"]
    assert got.sort_index().to_dict() == expect.sort_index().to_dict()
    assert (pc["wgd"] == (pc["ploidy"] >= 4)).all()
    # the derived table in the folder is the same data
    saved = pd.read_csv(out / "report_tables" / "ploidy_counts.tsv", sep="\t")
    assert saved["n"].sum() == int(ok.sum())


def test_profiles_round_trip_the_layers(full_run):
    out, truth, _ = full_run
    res = collect_outputs(out)
    ids = list(res.obs.index[:5])
    pay = profile_payload(res, ids, max_display_bins=10**6)  # no merging: exact bins
    import anndata as ad

    a = ad.read_h5ad(out / "cohort.h5ad")
    for k, s in enumerate(pay["samples"]):
        r = a.obs_names.get_loc(s["id"])
        expect = a.layers["ratio"][r] / a.obs["scale"].iloc[r]
        got = unpack_uint16(s["bins"])
        fin = np.isfinite(expect)
        assert np.array_equal(np.isfinite(got), fin)
        assert np.max(np.abs(got[fin] - np.clip(expect[fin], 0, None))) <= 0.0051
        # every run's integer CN equals the cn layer over its bins
        cn = a.layers["cn"][r]
        for i0, i1, c, _ in s["segs"]:
            v = cn[i0:i1 + 1]
            assert np.all(v[np.isfinite(v)] == c)
        covered = sum(i1 - i0 + 1 for i0, i1, _, _ in s["segs"])
        assert covered == int(np.isfinite(cn).sum())
        # the posterior is the stored one
        assert np.allclose(s["post"], a.obsm["ploidy_posterior"][r], atol=1e-4)


def test_display_grid_merges_within_chromosomes():
    var = pd.DataFrame({"chrom": ["1"] * 5 + ["2"] * 3, "start": [0, 10, 20, 30, 40, 0, 10, 20],
                        "end": [10, 20, 30, 40, 50, 10, 20, 30]})
    disp, group = display_grid(var, max_display_bins=4)  # k = 2
    assert disp.values.tolist() == [["1", 0, 20], ["1", 20, 40], ["1", 40, 50], ["2", 0, 20], ["2", 20, 30]]
    assert group.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    v = np.array([0, 1.234, 2.5, np.nan, 655.3])
    assert np.allclose(unpack_uint16(pack_uint16(v))[[0, 1, 2, 4]], [0, 1.23, 2.5, 655.3])
    assert np.isnan(unpack_uint16(pack_uint16(v))[3])


def test_profile_subset_covers_patients_and_clones():
    rng = np.random.default_rng(1)
    n = 5000
    obs = pd.DataFrame({"patient": rng.choice(["A", "B", "C", "D"], n),
                        "sample_type": np.where(np.arange(n) < 20, "wbc", "ctc"),
                        "clone": rng.choice(["c1", "c2", "c3"], n), "qc_pass": rng.random(n) > 0.1},
                       index=[f"s{i}" for i in range(n)])
    chosen = choose_profiles(obs, 120)
    assert len(chosen) == 120
    sub = obs.loc[chosen]
    assert (sub.sample_type == "wbc").sum() == 12
    strata = sub[sub.sample_type == "ctc"].groupby(["patient", "clone"]).size()
    assert len(strata) == 12 and strata.min() >= 8  # 108 over 12 strata, round robin
    assert sub[sub.sample_type == "ctc"].qc_pass.all()
    assert choose_profiles(obs, 120) == chosen  # fixed draw
    assert choose_profiles(obs.iloc[:50], 120) == list(obs.index[:50])


def test_group_comparison_exclusive_and_shared():
    d = pd.DataFrame({
        "sample_id": ["a", "b", "c", "d", "e"], "gene": ["MET", "MET", "MYC", "RB1", "MYC"],
        "state": ["amp", "gain", "gain", "loss", "gain"],
        "treatment_group": ["crizotinib", "lorlatinib", "crizotinib", "lorlatinib", "crizotinib"]})
    per_gene, counts = group_comparison(d)
    cat = per_gene.set_index("gene")["category"].to_dict()
    assert cat == {"MET": "shared", "MYC": "crizotinib only", "RB1": "lorlatinib only"}
    assert per_gene.set_index("gene").loc["MYC", "n_crizotinib"] == 2
    assert counts.set_index(["category", "direction"])["n_genes"].to_dict() == {
        ("crizotinib only", "gain"): 1, ("lorlatinib only", "loss"): 1, ("shared", "gain"): 1}


@pytest.mark.parametrize("steps,absent", [
    # without FCS the phenotype section shows the sample sheet's phenotypes (not a "not run")
    (("cna",), ["clustering", "drivers", "resistance"]),
    (("cna", "drivers"), ["clustering", "resistance"]),
    (("resistance",), ["qc", "phenotypes", "profiles", "ploidy", "clustering", "drivers"]),
])
def test_missing_steps_get_a_not_run_note(tmp_path, steps, absent):
    write_synthetic_run(tmp_path, n_cells=8, n_patients=2, seed=5, steps=steps)
    html = build_report(tmp_path, static_fallback=False).read_text(encoding="utf-8")
    notrun = set(re.findall(r'data-notrun="([a-z]+)"', html))
    assert notrun == set(absent)
    assert "Resistance per patient" in html and "Methods and provenance" in html


def test_cells_tsv_alone_is_enough(tmp_path):
    write_synthetic_run(tmp_path, n_cells=8, n_patients=2, seed=5, steps=("cna",))
    for f in ("cohort.h5ad", "segments.seg", "run.json"):
        (tmp_path / f).unlink()
    html = build_report(tmp_path, static_fallback=False).read_text(encoding="utf-8")
    notrun = set(re.findall(r'data-notrun="([a-z]+)"', html))
    assert notrun == {"profiles", "clustering", "drivers", "resistance"}
    assert "No run.json in this folder" in html


def test_simulated_label(tmp_path):
    from ctcscope.report import is_simulated

    write_synthetic_run(tmp_path, n_cells=6, n_patients=2, seed=1, steps=("cna",), simulated=False)
    assert not is_simulated(collect_outputs(tmp_path))
    html = build_report(tmp_path, static_fallback=False).read_text(encoding="utf-8")
    assert "simulated-banner" not in html and "simulated data" not in html
    # the simulator's sample ids alone are enough to label the page
    cells = pd.read_csv(tmp_path / "cells.tsv", sep="\t")
    cells["sample_id"] = "SIM-" + cells["sample_id"]
    cells.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    (tmp_path / "cohort.h5ad").unlink()
    assert is_simulated(collect_outputs(tmp_path))
    assert "simulated-banner" in build_report(tmp_path, static_fallback=False).read_text(encoding="utf-8")


def test_same_inputs_same_page(tmp_path):
    write_synthetic_run(tmp_path, n_cells=8, n_patients=2, seed=2, steps=("cna", "drivers", "resistance"))
    a = build_report(tmp_path).read_bytes()
    b = build_report(tmp_path).read_bytes()
    assert a == b


def test_bad_folders_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(InputError, match="is not a folder"):
        build_report(tmp_path / "nope")
    with pytest.raises(InputError, match="holds none of the files"):
        build_report(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    (tmp_path / "cells.tsv").write_text("sample_id\tpatient\nA\tP1\n")
    with pytest.raises(InputError, match="run.json .* is not valid JSON"):
        build_report(tmp_path)
    (tmp_path / "run.json").unlink()
    (tmp_path / "drivers.tsv").write_text("gene\tstate\nMET\tgain\n")
    with pytest.raises(InputError, match="drivers.tsv .* lacks the column"):
        build_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_cli_report(tmp_path):
    from typer.testing import CliRunner

    from ctcscope.cli import app

    write_synthetic_run(tmp_path, n_cells=6, n_patients=2, seed=1, steps=("cna", "resistance"))
    r = CliRunner().invoke(app, ["report", str(tmp_path), "--no-static", "--max-profiles", "4"])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "4 of 8 samples" in re.sub(r"<[^>]+>", "", html)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["steps"]["report"]["command"] == "ctcscope report"
    assert list(run["steps"]) == ["copy_number", "resistance", "report"]
    r = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "is not a folder" in r.output and "Traceback" not in r.output


def test_resistance_page_content(full_run):
    """The resistance step's real output (G1202R in one CTC, drivers from the cohort)."""
    out, _, page = full_run
    html = page.read_text(encoding="utf-8")
    res = json.loads((out / "resistance.json").read_text())
    text = re.sub(r"\s+", " ", "".join(_parse(html).text))
    for p in res["patients"]:
        assert f"Patient {p['patient']}" in text
        for m in p["mechanisms"]:
            if m["category"] != "context" and m["n_total"]:
                assert f"{m['n_cells']} of {m['n_total']} ({round(100 * m['fraction'])} %)" in text
        for o in p["options"]:
            assert o["therapy"] in text
        for c in p["caveats"]:
            assert re.sub(r"\s+", " ", c) in text
    # the TKI columns in approval order; a drug the patient progressed on is marked
    heads = re.findall(r"<th>(crizotinib|ceritinib|alectinib|brigatinib|ensartinib|lorlatinib)</th>", html)
    assert heads[:6] == ["crizotinib", "ceritinib", "alectinib", "brigatinib", "ensartinib", "lorlatinib"]
    assert "act-failed" in html and "progressed on it" in text
    # conflicting calls are shown with both sides, not resolved
    calls = [c for p in res["patients"] for c in p["tki_activity"]["calls"] if c["call"] == "conflicting"]
    assert calls, "the G1202R reading has a conflicting call in the knowledge base"
    c = calls[0]
    n_s = sum(s["effect"] in ("sensitive", "resensitizing") for s in c["statements"])
    n_r = sum(s["effect"] == "resistant" for s in c["statements"])
    assert f"{c['drug']} against ALK {c['unit']}: {n_s} statement(s) say sensitive, {n_r} say resistant" in text
    assert "act-conflicting" in html
    assert text.count("For research use only") >= 3
    acts = pd.read_csv(out / "report_tables" / "resistance_activity.tsv", sep="\t")
    assert set(acts["drug"]) == {"crizotinib", "ceritinib", "alectinib", "brigatinib", "ensartinib", "lorlatinib"}
    g = acts[(acts["patient"] == "P1") & (acts["variant"] == "G1202R")].set_index("drug")["call"]
    assert g["lorlatinib"] == "sensitive" and g["crizotinib"] == "resistant"  # Pan 2021 Table 2


def test_resistance_view_without_alk_mutation():
    from ctcscope.report.resistance_view import patient_views

    p = {"patient": "P9", "treatments": [{"drug": "crizotinib", "months": 4, "progressed": True}],
         "failed_alk_tkis": ["crizotinib"],
         "tki_activity": {"units": [], "calls": [], "summary": {d: "no ALK mutation reported" for d in
                                                               ("crizotinib", "lorlatinib")}},
         "mechanisms": [{"name": "MET amplification", "category": "off_target", "n_cells": 2, "n_total": 8,
                         "fraction": 0.25, "cells": {"a": ["MET:amp"], "b": ["MET:amp"]}, "statements": []}],
         "future_field": {"kept": "shown"}}
    v = patient_views({"patients": [p]})[0]
    assert v["matrix"]["message"] == "no ALK mutation reported" and v["matrix"]["rows"] == []
    assert v["mechanisms"][0]["pct"] == 25 and v["mechanisms"][0]["cells"] == ["a (MET:amp)", "b (MET:amp)"]
    assert v["timeline"][0]["progressed"] and v["extra"] == {"future_field": {"kept": "shown"}}


def test_h5ad_as_the_copy_number_step_writes_it(tmp_path):
    """Provenance stored as JSON text and categorical string columns (as h5ad keeps them)."""
    import anndata as ad

    write_synthetic_run(tmp_path, n_cells=6, n_patients=2, seed=4, steps=("cna",), simulated=False)
    a = ad.read_h5ad(tmp_path / "cohort.h5ad")
    rec = {"command": "run", "parameters": {"genome": {"build": "hg19", "bin_size": 1_000_000}}}
    a.uns["ctcscope"] = json.dumps(rec)
    a.obs["simulated"] = pd.Categorical(["True"] * a.n_obs)
    a.obs["qc_pass"] = pd.Categorical(a.obs["qc_pass"].astype(str))
    a.write_h5ad(tmp_path / "cohort.h5ad")
    (tmp_path / "run.json").unlink()
    res = collect_outputs(tmp_path)
    assert res.genome["build"] == "hg19" and res.obs["qc_pass"].map(type).eq(bool).all()
    html = build_report(tmp_path, static_fallback=False).read_text(encoding="utf-8")
    assert "simulated-banner" in html and "hg19" in html


def test_large_tables_are_embedded_in_part():
    from ctcscope.report.build import _Model

    m = _Model(False, max_table_rows=300, max_table_bytes=10_000)
    df = pd.DataFrame({"sample_id": [f"s{i}" for i in range(1000)], "patient": "P1", "x": np.arange(1000.0)})
    t = m.table("big", df, "big table", source="big.tsv")
    assert t["n"] == 1000 and 200 <= t["n_embedded"] < 1000
    assert m.tables["big"]["rows"][:3] == [["s0", "P1", 0.0], ["s1", "P1", 1.0], ["s2", "P1", 2.0]]
    assert len(m.tables["big"]["rows"]) == t["n_embedded"]
