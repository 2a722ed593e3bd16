"""Every command as a user meets it when something is wrong: one plain sentence, exit
status 2 (130 for Ctrl-C), no traceback, nothing that looks like a finished result, and
the user's own files untouched.

Cases already covered elsewhere are not repeated: ``run``'s sheet and BAM errors in
``test_workflow.py``, sheet parsing in ``test_io_samplesheet.py``, patient-sheet parsing
in ``test_resistance_*``, simulator designs in ``test_simulate_cli.py``.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _bamutil import HG19, header, random_reads, write_bam
from ctcscope.cli import app

runner = CliRunner()

USER_FILE_TEXT = "my own notes - do not touch"


def _cli(args):
    return runner.invoke(app, [str(a) for a in args])


def _one_sentence(r, code: int = 2):
    text = r.output
    assert r.exit_code == code, text
    assert "Traceback" not in text and r.exception is None or isinstance(r.exception, SystemExit), text
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return " ".join(text.split())


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run_dir(demo_run, tmp_path_factory):
    """A finished run folder (the demo's results, without its inputs)."""
    out = tmp_path_factory.mktemp("run") / "run"
    shutil.copytree(demo_run, out, ignore=shutil.ignore_patterns("input"))
    return out


@pytest.fixture
def run_copy(run_dir, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    return out


@pytest.fixture
def inputs(tmp_path):
    """A tiny sample sheet with real BAMs, a patient sheet, a user's folder and odd files."""
    d = tmp_path / "in"
    (d / "bams").mkdir(parents=True)
    for i, sid in enumerate(["P1_CTC1", "P1_CTC2"]):
        write_bam(d / "bams" / f"{sid}.bam", header(HG19, "chr"), random_reads(3000, HG19, seed=7 + i))
    (d / "samples.csv").write_text("sample_id,bam,patient\nP1_CTC1,bams/P1_CTC1.bam,P1\n"
                                   "P1_CTC2,bams/P1_CTC2.bam,P9\n")
    (d / "patients.yaml").write_text("patients:\n  - id: P1\n    treatments:\n      - {drug: crizotinib}\n")
    (d / "empty.tsv").write_text("")
    (d / "binary.tsv").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    (d / "comma.csv").write_text("sample_id,patient\nx,P1\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text(USER_FILE_TEXT)
    (mine / "old.html").write_text("<html>my own page</html>")
    return d, mine


# ----------------------------------------------------------------------------- bad input


def _cases(d: Path, mine: Path, run: Path, tmp: Path):
    """(name, arguments, expected words, path that must not appear)."""
    bad_yaml = d / "broken.yaml"
    bad_yaml.write_text("patients:\n  - id: P1\n    mutations: [ {name: G1202R\n")
    impossible = d / "impossible.yaml"
    impossible.write_text("patients:\n  - id: P1\n    mutations:\n      - {name: Z1202R}\n")
    unparsable = d / "unparsable.yaml"
    unparsable.write_text("patients:\n  - id: P1\n    mutations:\n      - {name: G1202}\n")
    both = d / "both.csv"
    both.write_text("sample_id,bam,patient\nP1_CTC1,bams/P1_CTC1.bam,P1\n")
    corrupt = tmp / "corrupt"
    corrupt.mkdir()
    (corrupt / ".ctcscope").write_text("written by ctcscope\n")
    (corrupt / "cohort.h5ad").write_text("not an h5ad file")
    o = tmp / "new"
    return [
        ("run: sample-sheet patient not in the patient sheet",
         ["run", "--samples", d / "samples.csv", "--patients", d / "patients.yaml", "--genome", "hg19", "--out", o],
         ["P9", "not in the patient sheet", "patients.yaml"], o),
        ("run: patient sheet is not YAML",
         ["run", "--samples", both, "--patients", bad_yaml, "--genome", "hg19", "--out", o], ["not valid YAML"], o),
        ("run: impossible ALK residue",
         ["run", "--samples", both, "--patients", impossible, "--genome", "hg19", "--out", o],
         ["residue 1202 is Gly"], o),
        ("run: unreadable mutation name",
         ["run", "--samples", both, "--patients", unparsable, "--genome", "hg19", "--out", o],
         ["'G1202' is not a protein change"], o),
        ("run: patient sheet given as the sample sheet",
         ["run", "--samples", both, "--patients", d / "samples.csv", "--genome", "hg19", "--out", o],
         ["unknown column"], o),
        ("count: output is a folder", ["count", "--samples", both, "--genome", "hg19", "--out", mine],
         ["is a folder"], None),
        ("count: no workers", ["count", "--samples", both, "--genome", "hg19", "--out", tmp / "c.tsv",
                               "--workers", "0"], ["--workers 0 must be 1 or more"], tmp / "c.tsv"),
        ("demo: no workers", ["demo", "--out", o, "--workers", "0"], ["--workers 0 must be 1 or more"], o),
        ("cluster: not a run folder", ["cluster", mine], ["has no cohort.h5ad"], None),
        ("cluster: corrupt cohort", ["cluster", corrupt], ["cannot read", "cohort.h5ad"], None),
        ("cluster: zero clones", ["cluster", run, "--overwrite", "--clones", "0"], ["--clones 0 must be 1 or more"],
         None),
        ("cluster: negative permutations", ["cluster", run, "--overwrite", "--permutations", "-5"],
         ["cannot be negative"], None),
        ("drivers: corrupt cohort", ["drivers", corrupt], ["cannot read", "cohort.h5ad"], None),
        ("drivers: missing catalogue", ["drivers", run, "--catalogue", d / "nope.tsv"], ["nope.tsv"], None),
        ("report: a user's folder", ["report", mine], ["holds none of the files a ctcscope run writes"], None),
        ("report: output over a user's file", ["report", run, "--output", mine / "old.html"],
         ["is not a ctcscope report"], None),
        ("report: output is a folder", ["report", run, "--output", mine], ["is a folder"], None),
        ("report: output is not html", ["report", run, "--output", mine / "notes.txt"], ["ending in .html"], None),
        ("resist: empty drivers table", ["resist", d / "patients.yaml", "--out", o, "--drivers", d / "empty.tsv"],
         ["drivers table empty.tsv is empty"], o),
        ("resist: binary drivers table", ["resist", d / "patients.yaml", "--out", o, "--drivers", d / "binary.tsv"],
         ["not a tab-separated text table"], o),
        ("resist: comma-separated cells table", ["resist", d / "patients.yaml", "--out", o, "--cells", d / "comma.csv"],
         ["no 'sample_id' column"], o),
        ("resist: missing patient sheet", ["resist", d / "nope.yaml", "--out", o], ["does not exist"], o),
        ("resist: output is a file", ["resist", d / "patients.yaml", "--out", mine / "notes.txt"], ["is a file"], None),
        ("simulate: read length", ["simulate", "--out", o, "--cells", "2", "--bam", "--read-length", "0"],
         ["read length 0 is too short"], o),
    ]


def test_every_command_answers_bad_input_in_one_sentence(inputs, run_copy, tmp_path):
    d, mine = inputs
    before_mine, before_run = _tree(mine), _tree(run_copy)
    for name, args, words, must_not_exist in _cases(d, mine, run_copy, tmp_path):
        r = _cli(args)
        text = _one_sentence(r)
        assert text.startswith("error:"), (name, r.output)
        for w in words:
            assert w in text, (name, r.output)
        if must_not_exist is not None:
            assert not Path(must_not_exist).exists(), f"{name}: left {must_not_exist} behind"
    assert _tree(mine) == before_mine, "a user's folder was changed"
    assert _tree(run_copy) == before_run, "a refused command changed the run folder"


def test_drivers_command_on_a_run_folder(run_copy):
    """``ctcscope drivers DIR`` on the folder ``ctcscope run`` wrote (provenance stored as JSON text)."""
    before = (run_copy / "drivers.tsv").read_bytes()
    (run_copy / "drivers.tsv").unlink()
    r = _cli(["drivers", run_copy])
    assert r.exit_code == 0, r.output
    assert (run_copy / "drivers.tsv").read_bytes() == before  # same tables as inside the run
    assert "drivers" in json.loads((run_copy / "run.json").read_text())["steps"]


def test_report_leaves_an_unfinished_folder_unfinished(run_copy):
    (run_copy / "run.json").unlink()
    r = _cli(["report", run_copy])
    assert r.exit_code == 0, r.output
    assert (run_copy / "report.html").exists() and not (run_copy / "run.json").exists()


def test_report_into_a_folder_ctcscope_did_not_write(run_copy, tmp_path):
    (run_copy / ".ctcscope").unlink()
    (run_copy / "report.html").unlink()
    shutil.rmtree(run_copy / "report_tables")
    before = _tree(run_copy)
    r = _cli(["report", run_copy])
    assert "no .ctcscope marker" in _one_sentence(r)
    page = tmp_path / "elsewhere.html"
    r = _cli(["report", run_copy, "--output", page])
    assert r.exit_code == 0, r.output
    assert page.stat().st_size > 0 and _tree(run_copy) == before  # the folder is only read


# ----------------------------------------------------------------------------- a read-only output folder


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder nobody may write into.  ``chmod`` does not stop root (as in some CI
    containers), so there the refusal the operating system gives other users is simulated
    at the places ctcscope creates files and folders."""
    ro = tmp_path / "readonly"
    ro.mkdir()
    (ro / "notes.txt").write_text(USER_FILE_TEXT)
    ro.chmod(0o555)
    if os.geteuid() == 0:
        import tempfile

        real_mkstemp, real_mkdir, real_open = tempfile.mkstemp, Path.mkdir, Path.write_text

        def inside(p) -> bool:
            return str(Path(p).absolute()).startswith(str(ro))

        def mkstemp(*a, dir=None, **k):
            if dir is not None and inside(dir):
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return real_mkstemp(*a, dir=dir, **k)

        def mkdir(self, *a, **k):
            if inside(self) and self != ro:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_mkdir(self, *a, **k)

        def write_text(self, *a, **k):
            if inside(self):
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_open(self, *a, **k)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(Path, "mkdir", mkdir)
        monkeypatch.setattr(Path, "write_text", write_text)
    yield ro
    ro.chmod(0o755)


def test_read_only_output_folder(inputs, run_dir, read_only):
    d, _ = inputs
    both = d / "one.csv"
    both.write_text("sample_id,bam,patient\nP1_CTC1,bams/P1_CTC1.bam,P1\n")
    for args in (["run", "--samples", both, "--genome", "hg19", "--out", read_only / "res", "--quiet"],
                 ["count", "--samples", both, "--genome", "hg19", "--out", read_only / "c.tsv", "--quiet"],
                 ["simulate", "--out", read_only / "sim", "--cells", "2"],
                 ["resist", d / "patients.yaml", "--out", read_only / "res"],
                 ["report", run_dir, "--output", read_only / "r.html"]):
        r = _cli(args)
        text = _one_sentence(r)
        assert re.search(r"permission denied|cannot write to output folder", text, re.I), (args[0], r.output)
    assert sorted(p.name for p in read_only.iterdir()) == ["notes.txt"]
    assert (read_only / "notes.txt").read_text() == USER_FILE_TEXT


# ----------------------------------------------------------------------------- Ctrl-C in the middle of a step


def _interrupt(*a, **k):
    raise KeyboardInterrupt


def _interrupted(r):
    """Exit 130 and one closing line (notes printed before the interrupt may precede it)."""
    assert r.exit_code == 130, r.output
    assert "Traceback" not in r.output
    assert r.output.strip().splitlines()[-1].startswith("interrupted:"), r.output


def test_ctrl_c_during_run_leaves_no_folder(inputs, tmp_path, monkeypatch):
    import ctcscope.drivers

    from test_workflow import standin_call_copy_number
    import ctcscope.workflow as wf

    d, _ = inputs
    monkeypatch.setattr(wf, "_call_copy_number", standin_call_copy_number)
    monkeypatch.setattr(ctcscope.drivers, "run_drivers_stage", _interrupt)  # after copy number wrote its files
    one = d / "one.csv"
    one.write_text("sample_id,bam,patient\nP1_CTC1,bams/P1_CTC1.bam,P1\n")
    out = tmp_path / "res"
    _interrupted(_cli(["run", "--samples", one, "--genome", "hg19", "--out", out, "--workers", "1", "--quiet"]))
    assert not out.exists()


def test_ctrl_c_while_replacing_a_run(run_copy, monkeypatch):
    """Steps run on an earlier run's folder: interrupted half-way, the folder loses its run.json."""
    import ctcscope.cohort.heatmap

    # the clustering writes its tables, then is interrupted while drawing the heatmap
    monkeypatch.setattr(ctcscope.cohort.heatmap, "plot_heatmap", _interrupt)
    _interrupted(_cli(["cluster", run_copy, "--overwrite", "--permutations", "9"]))
    assert not (run_copy / "run.json").exists()
    assert (run_copy / "cohort.h5ad").exists()  # the results stay, marked unfinished


def test_ctrl_c_before_anything_is_written_changes_nothing(run_copy, monkeypatch):
    import ctcscope.resistance.stage as rs

    sheet = run_copy.parent / "patients.yaml"
    sheet.write_text("patients:\n  - id: P41\n")
    before = _tree(run_copy)
    monkeypatch.setattr(rs, "interpret", _interrupt)
    _interrupted(_cli(["resist", sheet, "--out", run_copy]))
    assert _tree(run_copy) == before


def test_ctrl_c_during_simulate_and_demo(tmp_path, monkeypatch):
    import ctcscope.simulate.writers as w
    import ctcscope.simulate.demo as demo

    monkeypatch.setattr(w, "write_truth", _interrupt)  # after the sheets and counts are written
    _interrupted(_cli(["simulate", "--out", tmp_path / "sim", "--cells", "2"]))
    assert not (tmp_path / "sim").exists()
    monkeypatch.setattr(demo, "make_demo", _interrupt)
    _interrupted(_cli(["demo", "--out", tmp_path / "demo", "--quiet"]))
    assert not (tmp_path / "demo").exists()
