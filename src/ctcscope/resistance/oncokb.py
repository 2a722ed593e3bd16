"""Optional OncoKB look-up with the user's own API token (off by default).

ctcscope ships nothing from OncoKB.  When a user passes a token (``--oncokb-token`` or the
``ONCOKB_API_TOKEN`` environment variable), each ALK variant is annotated through the
OncoKB web API and the answer is stored beside ctcscope's own reading, marked as coming
from OncoKB.  OncoKB annotates one alteration at a time: the components of a compound are
sent separately.
"""
from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request

from ..errors import InputError

API = "https://www.oncokb.org/api/v1/annotate/mutations/byProteinChange"
ENV = "ONCOKB_API_TOKEN"
TIMEOUT = 20


def resolve_token(token: str | None = None) -> str:
    """The token to use: the argument, else ``$ONCOKB_API_TOKEN``; a clear error if neither."""
    tok = (token or os.environ.get(ENV, "")).strip()
    if not tok:
        raise InputError(
            "the OncoKB look-up needs your own OncoKB API token (register at oncokb.org); pass --oncokb-token "
            f"or set {ENV}; ctcscope ships nothing from OncoKB and works without it"
        )
    return tok


def build_request(alteration: str, token: str, *, gene: str = "ALK", tumor_type: str = "NSCLC") -> urllib.request.Request:
    """The HTTP request for one alteration (built, not sent)."""
    query = urllib.parse.urlencode({"hugoSymbol": gene, "alteration": alteration, "tumorType": tumor_type})
    return urllib.request.Request(f"{API}?{query}", headers={"Authorization": f"Bearer {token}",
                                                              "Accept": "application/json"}, method="GET")


def annotate_variants(variants: list[str], *, token: str | None = None, tumor_type: str = "NSCLC",
                      opener=urllib.request.urlopen) -> dict:
    """``{variant: OncoKB answer or error}`` for canonical ALK variants (compounds split)."""
    tok = resolve_token(token)
    out = {}
    for v in variants:
        answers = {}
        for part in v.split("+"):
            req = build_request(part, tok, tumor_type=tumor_type)
            try:
                with opener(req, timeout=TIMEOUT) as fh:
                    answers[part] = json.loads(fh.read().decode("utf-8"))
            except Exception as e:  # network or HTTP error: reported, never fatal
                answers[part] = {"error": f"{type(e).__name__}: {e}"}
        out[v] = {"source": "OncoKB (queried with the user's token)", "components": answers,
                  "note": "OncoKB annotates single alterations; compound evidence is not looked up" if "+" in v else ""}
    return out
