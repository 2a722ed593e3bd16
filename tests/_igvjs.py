"""Read a SEG file with igv.js's own parser (npm package ``igv``) in headless Chromium.

igv.js is installed by ``scripts/setup-igvjs.sh``; :func:`igvjs_missing` says why it cannot
run (then the tests skip).  The page loads igv.js as a classic script from disk and builds a
SEG track through the public ``igv.createTrack`` with a minimal stand-in browser (igv.js needs
a genome only to alias chromosome names), so the values come from IGV's ``SegParser`` itself.
"""
from __future__ import annotations

import os
from pathlib import Path

IGVJS_DIR = Path(os.environ.get("CTCSCOPE_IGVJS_DIR", Path.home() / ".cache" / "ctcscope" / "igvjs"))
IGVJS = IGVJS_DIR / "node_modules" / "igv" / "dist" / "igv.js"

_READ = r"""
const [text, chroms, done] = arguments;
(async () => {
  const genome = {id: 'ctcscope-test', getChromosomeName: c => c, getAliasRecord: () => undefined,
                  getChromosomeDisplayName: c => c, getChromosome: c => ({name: c, bpLength: 3e8}),
                  chromosomes: new Map()};
  const browser = {genome, on() {}, sampleInfo: {attributeNames: []}, alert: {present(e) { throw e; }}};
  const track = await igv.createTrack({type: 'seg', format: 'seg', url: new File([text], 'segments.seg'),
                                       name: 'segments', indexed: false}, browser);
  const rows = [];
  for (const chr of chroms) {
    for (const f of await track.featureSource.getFeatures({chr, start: 0, end: 3e8})) {
      const attrs = {};
      (f.attributeNames || []).forEach((n, i) => { attrs[n] = f.attributeValues[i]; });
      rows.push({sample: f.sample, chr: f.chr, start: f.start, end: f.end, value: f.value,
                 value_column: f.valueColumnName, attrs});
    }
  }
  return rows;
})().then(r => done({rows: r}), e => done({error: String(e && e.stack || e)}));
"""


def igvjs_missing() -> str | None:
    """``None`` when igv.js and headless Chromium are usable, else why not."""
    from ctcscope.report.browser import browser_missing

    if not IGVJS.exists():
        return f"igv.js is not installed at {IGVJS}: run `bash scripts/setup-igvjs.sh` (needs npm)"
    return browser_missing()


def read_seg_with_igvjs(chromium, seg_path: Path, chroms: list[str], page_dir: Path) -> list[dict]:
    """Features igv.js reads from ``seg_path``: sample, chr, 0-based start, end, ``value``
    (what IGV plots), ``value_column`` (the column it took it from) and the other columns."""
    page = page_dir / "igvjs.html"
    page.write_text(f'<!doctype html><html><body><script src="{IGVJS.resolve().as_uri()}"></script></body></html>')
    d = chromium.driver
    d.set_script_timeout(60)
    d.get(page.resolve().as_uri())
    got = d.execute_async_script(_READ, Path(seg_path).read_text(), chroms)
    if "error" in got:
        raise RuntimeError(f"igv.js could not read {seg_path}: {got['error']}")
    return got["rows"]
