"""Atomic writes and the output-folder guard."""
import pandas as pd
import pytest

from ctcscope._atomic import MARKER, atomic_path, prepare_output_dir, write_tsv
from ctcscope.errors import OutputError


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "cells.tsv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a table")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_only_when_done(tmp_path):
    target = tmp_path / "t.tsv"
    write_tsv(target, pd.DataFrame({"a": [1, None]}))
    assert target.read_text() == "a\n1.0\nNA\n"


def test_output_dir_guard(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.docx").write_text("precious")
    with pytest.raises(OutputError, match="did not write"):
        prepare_output_dir(user)
    assert (user / "thesis.docx").read_text() == "precious"

    out = prepare_output_dir(tmp_path / "run1")
    assert (out / MARKER).exists()
    (out / "cells.tsv").write_text("x")
    with pytest.raises(OutputError, match="--overwrite"):
        prepare_output_dir(out)
    prepare_output_dir(out, overwrite=True)
    f = tmp_path / "afile"
    f.write_text("")
    with pytest.raises(OutputError, match="is a file"):
        prepare_output_dir(f)


def test_written_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_tsv(tmp_path / "x.tsv", pd.DataFrame({"a": [1]}))
    finally:
        os.umask(old)
    assert (tmp_path / "x.tsv").stat().st_mode & 0o777 == 0o644
