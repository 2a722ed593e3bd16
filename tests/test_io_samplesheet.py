"""Sample sheets: sniffed delimiters, defaults, paths, and one sentence per problem."""
from __future__ import annotations

import re

import numpy as np
import pytest

from ctcscope.errors import InputError
from ctcscope.io.samplesheet import read_sample_sheet


@pytest.fixture
def bams(tmp_path):
    (tmp_path / "bams").mkdir()
    for n in ("a", "b", "c"):
        (tmp_path / "bams" / f"{n}.bam").write_bytes(b"")
    return tmp_path


def write(tmp_path, text, name="samples.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_csv_with_defaults_paths_and_extra_columns(bams):
    p = write(bams, "sample_id,bam,patient,sample_type,pool_size,gii,plate\n"
                    "P1_CTC1,bams/a.bam,P1,ctc,,3,plateA\n"
                    "P1_pool5,bams/b.bam,P1,ctc_pool,5,,plateA\n"
                    "P1_WBC,bams/c.bam,P1,wbc,200,4,\n")
    df = read_sample_sheet(p)
    assert df.columns[:8].tolist() == ["sample_id", "patient", "sample_type", "pool_size", "phenotype",
                                       "isolation", "gii", "bam"]
    assert df.sample_id.tolist() == ["P1_CTC1", "P1_pool5", "P1_WBC"]
    assert df.pool_size.tolist() == [1, 5, 200] and df.pool_size.dtype == np.int64
    assert df.gii.iloc[0] == 3.0 and np.isnan(df.gii.iloc[1])
    assert df.bam.iloc[0] == str((bams / "bams" / "a.bam").resolve())
    assert df.plate.tolist() == ["plateA", "plateA", ""]  # unknown column kept
    assert df.phenotype.tolist() == ["", "", ""]


def test_tsv_semicolon_bom_aliases_comments(bams):
    tsv = write(bams, "# CTC study\nSample\tBAM path\tType\n\nx1\tbams/a.bam\tCTC\nx2\tbams/b.bam\tleukocyte\n",
                "s.tsv")
    df = read_sample_sheet(tsv)
    assert df.sample_id.tolist() == ["x1", "x2"] and df.sample_type.tolist() == ["ctc", "wbc"]
    semi = write(bams, "\ufeffsample_id;bam;gii\nx1;bams/a.bam;2,5\n", "s2.csv")
    df = read_sample_sheet(semi)
    assert df.gii.iloc[0] == 2.5 and df.sample_type.iloc[0] == "ctc"


def test_no_bam_needed_with_a_count_matrix(tmp_path):
    p = write(tmp_path, "sample_id,patient\nc1,P1\nc2,P1\n")
    df = read_sample_sheet(p, require_bam=False)
    assert df.bam.tolist() == ["", ""]


BAD = [
    ("", "is empty"),
    ("sample_id,bam\n", "has a header but no samples"),
    ("id bam\nx1 bams/a.bam\n", "has a single column"),
    ("patient,bam\nP1,bams/a.bam\n", "has no 'sample_id' column"),
    ("sample_id,patient\nx1,P1\n", "has no 'bam' column"),
    ("sample_id,bam\n,bams/a.bam\n", "line 2: sample_id is empty"),
    ("sample_id,bam\nx1,bams/a.bam\nx1,bams/b.bam\n", "line 3: sample_id 'x1' is already used on line 2"),
    ("sample_id,bam,sample_type\nx1,bams/a.bam,ctc_pol\n", "sample_type 'ctc_pol' is not known; did you mean 'ctc_pool'?"),
    ("sample_id,bam,sample_type\nx1,bams/a.bam,germlin\n", "did you mean 'germline'?"),
    ("sample_id,bam,pool_size\nx1,bams/a.bam,2.5\n", "pool_size '2.5' is not a positive whole number"),
    ("sample_id,bam,pool_size\nx1,bams/a.bam,0\n", "pool_size '0' is not a positive whole number"),
    ("sample_id,bam,sample_type,pool_size\nx1,bams/a.bam,ctc,5\n", "sample_type is ctc (a single cell) but pool_size is 5"),
    ("sample_id,bam,sample_type\nx1,bams/a.bam,ctc_pool\n", "sample_type is ctc_pool but pool_size is empty"),
    ("sample_id,bam,sample_type,pool_size\nx1,bams/a.bam,ctc_pool,1\n", "sample_type is ctc_pool but pool_size is 1"),
    ("sample_id,bam,gii\nx1,bams/a.bam,7\n", "gii 7 is outside 0-4"),
    ("sample_id,bam,gii\nx1,bams/a.bam,high\n", "gii 'high' is not a number"),
    ("sample_id,bam\nx1,bams/missing.bam\n", "BAM file bams/missing.bam does not exist"),
    ("sample_id,bam\nx1,\n", "line 2: bam is empty"),
    ("sample_id,bam\nx1,bams\n", "bam bams is a folder"),
    ("sample_id,bam,Sample\nx1,bams/a.bam,x\n", "has the column 'sample_id' twice"),
    ("sample_id,bam\nx1,bams/a.bam,extra,fields\n", "line 2 has 4 fields but the header has 2"),
]


@pytest.mark.parametrize("text, expected", [b for b in BAD if b[1]])
def test_bad_sheets_one_sentence_each(bams, text, expected):
    with pytest.raises(InputError) as e:
        read_sample_sheet(write(bams, text))
    msg = str(e.value)
    assert expected in msg, msg
    assert msg.startswith("sample sheet samples.csv")
    assert "\n" not in msg and not re.search(r"\.\s+[A-Z]", msg)


def test_all_problems_reported_at_once(bams):
    p = write(bams, "sample_id,bam,sample_type,gii\nx1,bams/a.bam,ctc,9\nx1,bams/b.bam,blood,1\n")
    msg = str(pytest.raises(InputError, read_sample_sheet, p).value)
    assert msg.startswith("sample sheet samples.csv has 3 problems:")
    assert "line 2: gii 9 is outside 0-4" in msg and "line 3: sample_id 'x1'" in msg and "'blood' is not known" in msg


@pytest.mark.parametrize("content, expected", [
    (b"PK\x03\x04rest-of-xlsx", "is an Excel/zip file; save it as CSV or TSV"),
    (b"sample_id,bam\nx\xe9,bams/a.bam\n", "is not UTF-8 text (byte 0xe9 on line 2)"),
])
def test_wrong_file_kinds(bams, content, expected):
    p = bams / "samples.csv"
    p.write_bytes(content)
    assert expected in str(pytest.raises(InputError, read_sample_sheet, p).value)


def test_missing_sheet(tmp_path):
    msg = str(pytest.raises(InputError, read_sample_sheet, tmp_path / "nope.csv").value)
    assert "does not exist" in msg
