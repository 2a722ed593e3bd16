"""Report size, build time and open time in headless Chromium, at cohort scale.

    python benchmarks/report_scale.py                 # synthetic 100 and 10,000-cell runs
    python benchmarks/report_scale.py --cells 1000    # other sizes
    python benchmarks/report_scale.py --folder DIR    # an existing output folder (e.g. the demo)

Each open is repeated (``--repeats``) in a fresh page load; the figures printed are the
median and the range.  "ready" is the time from navigation to the report script having set
up tables, navigation and the lazy figures (what a reader waits for); "render all" draws
every figure of the page at once (what scrolling to the end costs).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctcscope.report.browser import Chromium, browser_missing  # noqa: E402
from ctcscope.report.testing import write_synthetic_run  # noqa: E402


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0f} ms (range {min(xs):.0f}-{max(xs):.0f}, n={len(xs)})"


def build_in_child(folder: Path) -> tuple[float, float]:
    """Build once in a fresh interpreter: (seconds, peak RSS in MB of that process)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) forking parent
    code = ("import sys, time; sys.path.insert(0, %r); from ctcscope.report import build_report; "
            "t = time.perf_counter(); build_report(%r); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print(time.perf_counter() - t, int(hwm) / 1024)"
            % (str(Path(__file__).resolve().parents[1] / "src"), str(folder)))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return float(out[-2]), float(out[-1])


def measure(folder: Path, label: str, repeats: int) -> None:
    runs = [build_in_child(folder) for _ in range(repeats)]
    page = folder / "report.html"
    size = page.stat().st_size / 1e6
    print(f"[{label}] build_report: {spread([1000 * t for t, _ in runs])}; peak RSS of the build "
          f"{max(r for _, r in runs):.0f} MB; report size {size:.2f} MB")
    hint = browser_missing()
    if hint:
        print(f"[{label}] browser timings skipped: {hint}")
        return
    ready, dom, draw = [], [], []
    with Chromium() as c:
        for _ in range(repeats):
            chk = c.open(page)
            assert not chk.errors, chk.errors
            assert not chk.external_requests, chk.external_requests
            ready.append(chk.timings_ms["wall_to_ready"])
            dom.append(chk.timings_ms["dom_content_loaded"])
            draw.append(c.render_all())
    print(f"[{label}] open to ready: {spread(ready)}; DOMContentLoaded {spread(dom)}; render all figures {spread(draw)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, nargs="*", default=[100, 10_000])
    ap.add_argument("--folder", type=Path, help="measure an existing output folder instead")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the synthetic folders under this folder and keep them")
    a = ap.parse_args()
    if a.folder:
        measure(a.folder, a.folder.name, a.repeats)
        return
    for n in a.cells:
        with tempfile.TemporaryDirectory(prefix=f"ctcscope-report-{n}-") as tmp:
            folder = a.keep / f"synthetic-{n}" if a.keep else Path(tmp)
            t0 = time.perf_counter()
            write_synthetic_run(folder, n_cells=n, n_patients=max(3, min(20, n // 500)), seed=1, bin_size=1_000_000)
            print(f"[{n} cells] synthetic folder written in {time.perf_counter() - t0:.1f} s")
            measure(folder, f"{n} cells", a.repeats)


if __name__ == "__main__":
    main()
