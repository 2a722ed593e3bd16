"""What the DNA-index step makes of every real FCS file of the shared data (issue 11).

    python benchmarks/dna_index_real_fcs.py [DATA_DIR]

DATA_DIR defaults to tests/data (the real files copied into the repository).  For each file:
its DNA channel and dye or the one-sentence note saying why there is none, whether it is an
index sort, and — where a DNA dye is named but refused (SYTO, 7-AAD) — what its G1 peak
would be if forced, with CD45 (or B220, CD45R) bright events as the reference.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main():
    from conftest import real_data
    from ctcscope.errors import InputError
    from ctcscope.phenotype import read_fcs
    from ctcscope.phenotype.dna_index import DNA_DEFAULTS, find_dna_channel, g1_peak
    from ctcscope.phenotype.indexsort import index_sort_locations

    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "tests" / "data"
    files = sorted({p.with_suffix("") if p.suffix == ".gz" else p for p in base.rglob("*.fcs*")
                    if ".cache" not in p.parts})
    for f in files:
        rel = f.relative_to(base)
        t0 = time.perf_counter()
        try:
            x = read_fcs(real_data(str(rel)) if base.name == "data" else f)
        except InputError as e:
            print(f"{rel}: not read ({e})")
            continue
        try:
            n_sorted = len(index_sort_locations(x.metadata))
        except InputError:
            n_sorted = 0
        pnn, dye, note = find_dna_channel(x)
        line = f"{rel}: {x.n_events} events, {'index sort of ' + str(n_sorted) + ' wells' if n_sorted else 'no index sort'}; "
        if pnn:
            line += f"DNA channel {pnn} ({dye})"
        else:
            line += note
            if dye:
                forced = next(p for p, s in zip(x.channels.pnn, x.channels.pns)
                              if dye.lower().replace("-", "") in (s + p).lower().replace("-", "").replace(" ", ""))
                ref = next((m for m in ("CD45", "B220") if (x.channels.marker == m).any()), None)
                if ref:
                    v, r = x.column(forced), x.column(ref)
                    peak, cv, n = g1_peak(v[r > np.quantile(r, 0.5)])
                    ok = "usable" if cv <= DNA_DEFAULTS["max_reference_cv"] else "too broad for a DNA index"
                    line += f" [forced: G1 peak of {ref}-bright events {peak:.0f}, CV {cv:.1%} from {n} events: {ok}]"
        print(line + f" ({time.perf_counter() - t0:.2f} s)")


if __name__ == "__main__":
    main()
