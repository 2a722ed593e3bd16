"""The self-contained HTML report (``report.html``) of an output folder.

``build_report(out_dir)`` reads whatever the steps of a run wrote (``docs/data-model.md``)
and writes one page that opens offline in any browser: run summary, QC, phenotypes,
copy-number profiles, ploidy and instability, clustering, drivers and pathways,
resistance per patient, methods and provenance.
"""
from .build import RESEARCH_USE, SECTIONS, build_report, render_report, safe_json
from .collect import RunOutputs, collect_outputs, is_simulated

__all__ = ["RESEARCH_USE", "SECTIONS", "RunOutputs", "build_report", "collect_outputs", "is_simulated",
           "render_report", "safe_json"]
