"""Every data file under src/ctcscope is shipped by the package build (a data file the
package-data patterns miss works from a checkout and breaks after `pip install .`)."""
import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_data_patterns_cover_every_data_file():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["*"]
    src = ROOT / "src" / "ctcscope"
    missed = [str(p.relative_to(src)) for p in src.rglob("*")
              if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
              and not any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert missed == [], f"add patterns for {missed} to [tool.setuptools.package-data] in pyproject.toml"
