/* ctcscope report script: draws the figures, tables and profiles from the page's own JSON.
 * Written for ctcscope; uses only the inlined plotly.js.  User-provided strings are
 * written with textContent (never innerHTML), and escaped before plotly sees them
 * (plotly renders a subset of HTML tags in labels). */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("ctcscope-data").textContent);
  var state = { patient: "", rendered: {}, tables: {}, profileIndex: 0, profileIds: [] };
  var api = window.ctcscope = { ready: false, errors: [], state: state };
  var CONFIG = { responsive: true, displaylogo: false, scrollZoom: false,
                 modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"],
                 toImageButtonOptions: { format: "png", scale: 2 } };

  function esc(s) {  /* for plotly labels: plotly decodes entities, so the text shows as typed */
    return String(s === null || s === undefined ? "" : s).replace(/&/g, "&amp;").replace(/</g, "&lt;")
      .replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/\{/g, "&#123;").replace(/\}/g, "&#125;");
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) { for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { e.setAttribute(k, attrs[k]); } } }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function deep(o) { return JSON.parse(JSON.stringify(o)); }

  /* ------------------------------------------------------------ figures */
  function filteredSpec(spec) {
    var p = state.patient;
    /* a cohort aggregate carries the same figure per patient (build.py): draw that one */
    var data = deep(p && spec.by_patient ? (spec.by_patient[p] || []) : spec.data);
    data.forEach(function (t) {
      var meta = t.meta || {};
      if (meta.patient !== undefined) { t.visible = (!p || meta.patient === p) ? true : false; }
      if (meta.patients && p) {  /* one patient per point: keep that patient's points */
        var keep = meta.patients.map(function (q) { return q === p; });
        ["x", "y", "text", "customdata"].forEach(function (k) {
          if (Array.isArray(t[k]) && t[k].length === keep.length) { t[k] = t[k].filter(function (_, i) { return keep[i]; }); }
        });
      }
      if (meta.patients_y && p && t.type === "heatmap") {  /* heatmap rows = samples of patients */
        var rws = meta.patients_y.map(function (q, i) { return q === p ? i : -1; }).filter(function (i) { return i >= 0; });
        t.y = rws.map(function (i) { return t.y[i]; });
        t.z = rws.map(function (i) { return t.z[i]; });
      }
      if (meta.patients_x && p && t.type === "heatmap") {  /* heatmap columns = samples of patients */
        var cols = meta.patients_x.map(function (q, i) { return q === p ? i : -1; }).filter(function (i) { return i >= 0; });
        t.x = cols.map(function (i) { return t.x[i]; });
        t.z = t.z.map(function (row) { return cols.map(function (i) { return row[i]; }); });
      }
    });
    var layout = deep(spec.layout);
    if (p && data.some(function (t) { return t.meta && t.meta.patients_x; })) {
      layout.shapes = []; layout.annotations = [];  /* group separators no longer apply */
    }
    return { data: data, layout: layout };
  }
  /* a line above a figure saying what it shows under the patient filter */
  function scopeNote(node, text) {
    var scope = node.parentNode.querySelector(".scope");
    if (!scope) { scope = el("div", { "class": "note scope" }); node.parentNode.insertBefore(scope, node); }
    scope.textContent = text;
  }
  function drawFigure(div) {
    var id = div.getAttribute("data-fig"), spec = DATA.figures[id];
    if (!spec) { return; }
    var f = filteredSpec(spec);
    /* say so when a figure cannot follow the patient filter (a comparison of drug groups) */
    var split = spec.by_patient || spec.data.some(function (t) {
      var m = t.meta || {}; return m.patient !== undefined || m.patients || m.patients_x || m.patients_y; });
    scopeNote(div, !state.patient ? "" : (split ? (spec.by_patient ? state.patient + "'s samples only" : state.patient + " only")
                                                : "cohort-wide: not split by patient"));
    try {
      Plotly.react(div, f.data, f.layout, CONFIG);
      div.classList.remove("pending");
      state.rendered[id] = true;
    } catch (err) { api.errors.push(String(err)); throw err; }
  }
  var observer = ("IntersectionObserver" in window) ? new IntersectionObserver(function (entries) {
    entries.forEach(function (en) {
      if (en.isIntersecting) { observer.unobserve(en.target); drawFigure(en.target); }
    });
  }, { rootMargin: "300px" }) : null;
  function setupFigures() {
    document.querySelectorAll("div.plot[data-fig]").forEach(function (div) {
      if (observer) { observer.observe(div); } else { drawFigure(div); }
    });
  }
  api.renderAll = function () {
    document.querySelectorAll("div.plot[data-fig]").forEach(function (div) {
      if (observer) { observer.unobserve(div); }
      drawFigure(div);
    });
    drawProfile();
  };

  /* ------------------------------------------------------------ tables */
  var PAGE = 50;
  function csvCell(v) {
    if (v === null || v === undefined) { return ""; }
    var s = String(v);
    /* spreadsheet formula injection: a text cell starting with = + - @ is prefixed */
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s) && isNaN(Number(s))) { s = "'" + s; }
    if (/[",\n\r]/.test(s)) { s = '"' + s.replace(/"/g, '""') + '"'; }
    return s;
  }
  /* What the table shows now: under the patient filter, the patient's own version of an
   * aggregate when the page carries one; otherwise the table itself (rows filtered below). */
  function view(t) {
    var p = state.patient;
    if (p && t.by_patient) { return t.by_patient[p] || { columns: t.columns, numeric: t.numeric, rows: [] }; }
    return t;
  }
  function tableScope(t) {
    var p = state.patient;
    if (!p) { return ""; }
    if (t.by_patient) { return " · " + p + ": " + t.patient_note; }
    if (t.patient_col === null || t.patient_col === undefined) { return " · cohort-wide: not split by patient"; }
    return " · " + p + " only";
  }
  function tableRows(t) {
    var v = view(t), rows = v.rows, p = state.patient, q = (t.query || "").toLowerCase();
    if (p && !t.by_patient && t.patient_col !== null && t.patient_col !== undefined) {
      rows = rows.filter(function (r) { return r[t.patient_col] === p; });
    }
    if (q) {
      rows = rows.filter(function (r) { return r.some(function (v) { return v !== null && String(v).toLowerCase().indexOf(q) >= 0; }); });
    }
    if (t.sortCol !== undefined) {
      var c = t.sortCol, dir = t.sortDir;
      rows = rows.slice().sort(function (a, b) {
        var x = a[c], y = b[c];
        if (x === y) { return 0; } if (x === null) { return 1; } if (y === null) { return -1; }
        return (x < y ? -1 : 1) * dir;
      });
    }
    return rows;
  }
  function download(name, text, mime) {
    var blob = new Blob([text], { type: mime });
    var url = URL.createObjectURL(blob);
    var a = el("a", { href: url, download: name });
    document.body.appendChild(a); a.click(); document.body.removeChild(a);
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }
  api.tableCSV = function (name, all) {
    var t = DATA.tables[name];
    var rows = all ? t.rows : tableRows(t), cols = all ? t.columns : view(t).columns;
    return [cols.map(csvCell).join(",")].concat(rows.map(function (r) { return r.map(csvCell).join(","); })).join("\n") + "\n";
  };
  function renderTable(box) {
    var name = box.getAttribute("data-table"), t = DATA.tables[name];
    if (!t) { return; }
    if (t.page === undefined) { t.page = 0; }
    var tools = box.querySelector(".tools"), scroll = box.querySelector(".scroll.js");
    if (!tools) {
      tools = el("div", { "class": "tools" });
      var search = el("input", { type: "search", placeholder: "search", "aria-label": "search " + name });
      search.addEventListener("input", function () { t.query = search.value; t.page = 0; renderTable(box); });
      var prev = el("button", { type: "button", "data-act": "prev" }, "◀");
      var next = el("button", { type: "button", "data-act": "next" }, "▶");
      var info = el("span", { "class": "pageinfo" });
      var dl = el("button", { type: "button", "class": "csv", "data-table": name }, "Download CSV");
      prev.addEventListener("click", function () { if (t.page > 0) { t.page--; renderTable(box); } });
      next.addEventListener("click", function () { t.page++; renderTable(box); });
      dl.addEventListener("click", function () { download(t.file, api.tableCSV(name, false), "text/csv;charset=utf-8"); });
      [search, prev, info, next, dl].forEach(function (x) { tools.appendChild(x); });
      box.appendChild(tools);
      scroll = el("div", { "class": "scroll js" });
      box.appendChild(scroll);
    }
    var rows = tableRows(t), pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (t.page >= pages) { t.page = pages - 1; }
    tools.querySelector(".pageinfo").textContent = rows.length + " rows" + (pages > 1 ? " · page " + (t.page + 1) + " of " + pages : "") +
      tableScope(t);
    var shownT = view(t), table = el("table", { "class": "t" }), thead = el("thead"), htr = el("tr");
    shownT.columns.forEach(function (c, i) {
      var th = el("th", { title: "sort" }, c + (t.sortCol === i ? (t.sortDir > 0 ? " ▲" : " ▼") : ""));
      th.addEventListener("click", function () { t.sortDir = (t.sortCol === i) ? -t.sortDir : 1; t.sortCol = i; renderTable(box); });
      htr.appendChild(th);
    });
    thead.appendChild(htr); table.appendChild(thead);
    var tbody = el("tbody");
    rows.slice(t.page * PAGE, (t.page + 1) * PAGE).forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (v, i) {
        var td = el("td", shownT.numeric[i] ? { "class": "num" } : null, v === null ? "" : (typeof v === "boolean" ? (v ? "yes" : "no") : v));
        if (v === "pass") { td.className = "pass"; } else if (v === "fail") { td.className = "fail"; }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    scroll.textContent = "";
    scroll.appendChild(table);
  }
  function setupTables() { document.querySelectorAll("div.tablebox[data-table]").forEach(renderTable); }

  /* ------------------------------------------------------------ profiles */
  var P = DATA.profiles || {};
  function decode(b64) {
    var bin = atob(b64), n = bin.length / 2, out = new Array(n);
    for (var i = 0; i < n; i++) {
      var v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      out[i] = (v === 65535) ? null : v / 100;
    }
    return out;
  }
  function profileSamples() {
    var p = state.patient;
    return (P.samples || []).filter(function (s) { return !p || s.patient === p; });
  }
  function fillProfileSelect() {
    var sel = document.getElementById("profile-select");
    if (!sel) { return; }
    var list = profileSamples(), cur = state.profileIds[state.profileIndex];
    sel.textContent = "";
    state.profileIds = list.map(function (s) { return s.id; });
    list.forEach(function (s, i) {
      var lab = s.id + " · " + (s.patient || "no patient") + " · " + s.type + (s.ploidy !== null ? " · " + s.ploidy + "n" : "") +
        (s.qc === false ? " · QC fail" : "");
      sel.appendChild(el("option", { value: String(i) }, lab));
    });
    var k = state.profileIds.indexOf(cur);
    state.profileIndex = k >= 0 ? k : 0;
    sel.value = String(state.profileIndex);
  }
  function colourFor(cn, ploidy) {
    if (ploidy === null || ploidy === undefined) { return "#222"; }
    return cn > ploidy ? "#c62828" : (cn < ploidy ? "#1565c0" : "#222");
  }
  function drawProfile() {
    var div = document.getElementById("profile-plot");
    if (!div || !P.samples) { return; }
    var list = profileSamples();
    var info = document.getElementById("profile-info");
    if (!list.length) { Plotly.purge(div); info.textContent = "no embedded profile for this patient"; return; }
    var s = list[Math.min(state.profileIndex, list.length - 1)];
    var y = decode(s.bins), x0 = P.x0, x1 = P.x1, n = y.length;
    var xm = new Array(n);
    for (var i = 0; i < n; i++) { xm[i] = (x0[i] + x1[i]) / 2; }
    var top = Math.max(6, (s.ploidy || 2) + 4);
    s.segs.forEach(function (g) { if (g[2] + 1 > top) { top = g[2] + 1; } });
    top = Math.min(top, 20);
    var yc = y.map(function (v) { return v === null ? null : Math.min(v, top); });
    var traces = [{ type: "scatter", mode: "markers", x: xm, y: yc, name: "bins", hoverinfo: "skip",
                    marker: { size: 2.5, color: "rgba(90,90,90,0.45)" } }];
    /* segments: integer copy number coloured against ploidy, segment means as thin lines */
    var groups = { gain: { x: [], y: [] }, loss: { x: [], y: [] }, even: { x: [], y: [] } }, mx = [], my = [];
    s.segs.forEach(function (g) {
      var a = x0[g[0]], b = x1[g[1]], c = Math.min(g[2], top), key = g[2] > s.ploidy ? "gain" : (g[2] < s.ploidy ? "loss" : "even");
      if (s.ploidy === null) { key = "even"; }
      groups[key].x.push(a, b, null); groups[key].y.push(c, c, null);
      mx.push(a, b, null); my.push(Math.min(g[3], top), Math.min(g[3], top), null);
    });
    traces.push({ type: "scatter", mode: "lines", x: mx, y: my, name: "segment mean", hoverinfo: "skip",
                  line: { color: "rgba(0,0,0,0.35)", width: 1 } });
    [["even", "#222", "integer CN = ploidy"], ["gain", "#c62828", "integer CN > ploidy"], ["loss", "#1565c0", "integer CN < ploidy"]].forEach(function (k) {
      traces.push({ type: "scatter", mode: "lines", x: groups[k[0]].x, y: groups[k[0]].y, name: k[2],
                    line: { color: k[1], width: 3 }, hovertemplate: "%{y} copies<extra></extra>" });
    });
    var shapes = [], ann = [], tickv = [], tickt = [];
    P.chroms.forEach(function (c, i) {
      if (i % 2 === 0) {
        shapes.push({ type: "rect", xref: "x", yref: "paper", x0: c.start, x1: c.end, y0: 0, y1: 1, layer: "below",
                      fillcolor: "#eef1f5", line: { width: 0 } });
      }
      tickv.push((c.start + c.end) / 2); tickt.push(esc(c.chrom));
    });
    if (s.ploidy !== null) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 0.82, y0: s.ploidy, y1: s.ploidy, line: { color: "#888", dash: "dot", width: 1 } });
    }
    (s.labels || []).forEach(function (l, k) {
      var col = (l[2] === "gain" || l[2] === "amp") ? "#c62828" : "#1565c0";
      ann.push({ x: l[1], y: top * (0.97 - 0.06 * (k % 3)), xref: "x", yref: "y", text: esc(l[0]), showarrow: false,
                 font: { size: 10, color: col }, bgcolor: "rgba(255,255,255,0.75)" });
    });
    var layout = {
      margin: { l: 50, r: 10, t: 56, b: 40 }, height: DATA.profile_height || 430, showlegend: true, hovermode: "closest",
      legend: { orientation: "h", y: -0.12, font: { size: 11 } },
      title: { text: esc(s.id) + " · " + esc(s.patient || "no patient") + " · " + esc(s.type) +
               (s.phenotype ? " · " + esc(s.phenotype) : "") +
               "<br><span style='font-size:12px'>ploidy " + (s.ploidy === null ? "?" : s.ploidy + "n") +
               (s.conf !== null ? " (confidence " + s.conf + ")" : "") + (s.mean_cn !== null ? ", mean CN " + s.mean_cn : "") +
               (s.wgd ? ", WGD" : ", no WGD") + (s.wgd_p !== null ? " (P(WGD) = " + s.wgd_p + ")" : "") +
               (s.qc === false ? ", QC fail: " + esc(s.qc_reason) : "") + (s.clone ? ", clone " + esc(s.clone) : "") +
               (s.status === "ambiguous" ? ", ambiguous" : "") +
               (s.phase ? " · cycle " + esc(s.phase) : "") + (s.dna !== null && s.dna !== undefined ? ", DNA index " + s.dna : "") +
               (s.dna_conflict ? " <b>(DNA index and read depth disagree)</b>" : "") + "</span>",
               font: { size: 14 }, x: 0.01, xanchor: "left" },
      xaxis: { domain: [0, 0.82], range: [0, P.chroms[P.chroms.length - 1].end], tickmode: "array", tickvals: tickv,
               ticktext: tickt, tickfont: { size: 9 }, showgrid: false, zeroline: false },
      yaxis: { title: { text: "copy number" }, range: [-0.3, top + 0.3], dtick: 1, tick0: 0, zeroline: false, gridcolor: "#e5e5e5" },
      shapes: shapes, annotations: ann, plot_bgcolor: "#fff", paper_bgcolor: "#fff"
    };
    if (P.ideogram) {  /* cytoband ideogram above the profile */
      var e = P.ideogram.edges, zc = P.ideogram.z;
      traces.push({ type: "heatmap", x: e, y: [0, 1], z: [zc], xaxis: "x", yaxis: "y3", showscale: false,
                    hoverinfo: "skip", zmin: -1, zmax: 1, name: "cytobands",
                    colorscale: [[0, "#b2182b"], [0.499, "#b2182b"], [0.5, "#ffffff"], [1, "#222222"]] });
      layout.yaxis.domain = [0, 0.93];
      layout.shapes.forEach(function (sh) { if (sh.type === "rect") { sh.y1 = 0.93; } });
      layout.yaxis3 = { domain: [0.955, 1], anchor: "x", visible: false, fixedrange: true, range: [0, 1] };
    }
    if (P.grid && s.post) {
      traces.push({ type: "scatter", mode: "lines", x: P.grid, y: s.post, xaxis: "x2", yaxis: "y2", name: "ploidy posterior",
                    fill: "tozeroy", line: { color: "#0b5394", width: 1.5 }, hovertemplate: "scale %{x}: %{y:.3f}<extra>posterior</extra>" });
      layout.xaxis2 = { domain: [0.86, 1], anchor: "y2", title: { text: "mean CN of solution", font: { size: 10 } }, tickfont: { size: 9 } };
      layout.yaxis2 = { anchor: "x2", domain: [0, 1], title: { text: "posterior", font: { size: 10 } }, tickfont: { size: 9 }, rangemode: "tozero" };
      if (s.mean_cn !== null) {
        layout.shapes.push({ type: "line", xref: "x2", yref: "paper", x0: s.mean_cn, x1: s.mean_cn, y0: 0, y1: 1,
                             line: { color: "#c62828", width: 1.5 } });
      }
    }
    Plotly.react(div, traces, layout, CONFIG);
    div.classList.remove("pending");
    info.textContent = (state.profileIndex + 1) + " of " + list.length + " embedded profiles";
    state.rendered.profile = s.id;
  }
  function setupProfiles() {
    var sel = document.getElementById("profile-select");
    if (!sel || !P.samples) { return; }
    fillProfileSelect();
    sel.addEventListener("change", function () { state.profileIndex = Number(sel.value); drawProfile(); });
    document.getElementById("profile-prev").addEventListener("click", function () {
      if (state.profileIndex > 0) { state.profileIndex--; sel.value = String(state.profileIndex); drawProfile(); }
    });
    document.getElementById("profile-next").addEventListener("click", function () {
      if (state.profileIndex < state.profileIds.length - 1) { state.profileIndex++; sel.value = String(state.profileIndex); drawProfile(); }
    });
    var div = document.getElementById("profile-plot");
    if (observer) {
      var po = new IntersectionObserver(function (en) {
        if (en[0].isIntersecting) { po.disconnect(); drawProfile(); }
      }, { rootMargin: "300px" });
      po.observe(div);
    } else { drawProfile(); }
  }

  /* ------------------------------------------------------------ patient filter, navigation */
  function applyPatient(p) {
    state.patient = p;
    document.querySelectorAll("div.plot[data-fig]").forEach(function (div) {
      if (state.rendered[div.getAttribute("data-fig")]) { drawFigure(div); }
    });
    Object.keys(DATA.tables).forEach(function (k) {
      var t = DATA.tables[k];
      t.page = 0;
      if (t.by_patient) { delete t.sortCol; }  /* a patient's view may have other columns */
    });
    setupTables();
    /* the steps' own figures (PNG) are drawn over the whole cohort */
    document.querySelectorAll("figure:not([data-patient]) > img.figimg").forEach(function (img) {
      scopeNote(img, p ? "cohort-wide: not split by patient" : "");
    });
    document.querySelectorAll("[data-patient]").forEach(function (e) {
      e.style.display = (!p || e.getAttribute("data-patient") === p) ? "" : "none";
    });
    if (P.samples) { fillProfileSelect(); if (state.rendered.profile) { drawProfile(); } }
  }
  /* Table-of-contents jumps land: every figure's height is reserved in the page (build.py),
   * the jump is instant (smooth scrolling raced the lazily drawn figures above the target),
   * and for a moment after it the target is put back at the top should anything above it
   * still change height.  The link of the section at the top of the window is highlighted. */
  var NAV_OFFSET = 8;         /* px between the window's top and a section's top after a jump */
  var nav = { links: [], sections: [], lock: null, settle: 0 };
  function setActive(id) {
    nav.links.forEach(function (a) {
      var on = a.getAttribute("href") === "#" + id;
      a.classList.toggle("active", on);
      if (on) { a.setAttribute("aria-current", "true"); } else { a.removeAttribute("aria-current"); }
    });
  }
  function currentSection() {
    var cur = nav.sections[0], line = window.innerHeight * 0.25;
    nav.sections.forEach(function (s) { if (s.getBoundingClientRect().top <= line) { cur = s; } });
    return cur;
  }
  function atPageEnd() {
    var d = document.documentElement;
    return window.scrollY + window.innerHeight >= d.scrollHeight - 1;
  }
  function jumpTo(sec, push) {
    if (!sec) { return; }
    nav.lock = sec.id;
    setActive(sec.id);
    if (push && history.pushState) { history.pushState(null, "", "#" + sec.id); }
    var stable = 0, frames = 0;
    function place() {
      var off = sec.getBoundingClientRect().top - NAV_OFFSET;
      if (Math.abs(off) > 1 && !(off > 0 && atPageEnd())) {
        window.scrollTo(0, window.scrollY + off); stable = 0;
      } else { stable++; }
      frames++;
      /* settled: 15 quiet frames (about 250 ms), or give up after about 3 s */
      if (stable < 15 && frames < 180 && nav.lock === sec.id) { nav.settle = requestAnimationFrame(place); } else {
        nav.lock = null; nav.settle = 0;
      }
    }
    cancelAnimationFrame(nav.settle);
    place();
  }
  function releaseJump() {  /* the reader scrolls on their own: stop holding the target */
    if (nav.lock) { nav.lock = null; cancelAnimationFrame(nav.settle); }
  }
  function setupNav() {
    var sel = document.getElementById("patient-filter");
    sel.addEventListener("change", function () { applyPatient(sel.value); });
    nav.links = Array.prototype.slice.call(document.querySelectorAll("nav#toc a[href^='#']"));
    nav.sections = Array.prototype.slice.call(document.querySelectorAll("section.sec"));
    nav.links.forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var sec = document.getElementById(a.getAttribute("href").slice(1));
        if (!sec) { return; }
        ev.preventDefault();
        jumpTo(sec, true);
      });
    });
    ["wheel", "touchstart", "keydown", "mousedown"].forEach(function (t) {
      window.addEventListener(t, function (ev) { if (!(ev.target.closest && ev.target.closest("nav#toc"))) { releaseJump(); } },
                              { passive: true });
    });
    var ticking = false;
    window.addEventListener("scroll", function () {
      if (ticking) { return; }
      ticking = true;
      requestAnimationFrame(function () {
        ticking = false;
        if (!nav.lock) { var c = currentSection(); if (c) { setActive(c.id); } }
      });
    }, { passive: true });
    window.addEventListener("popstate", function () {
      var sec = location.hash && document.getElementById(location.hash.slice(1));
      if (sec) { jumpTo(sec, false); }
    });
    var first = currentSection();
    if (first) { setActive(first.id); }
  }
  api.jumpTo = function (id) { jumpTo(document.getElementById(id), true); };
  api.navSettled = function () { return nav.lock === null; };
  api.applyPatient = applyPatient;

  function start() {
    var t0 = performance.now();
    document.documentElement.classList.remove("no-js");
    setupNav(); setupTables(); setupFigures(); setupProfiles();
    /* opened at report.html#section: land there as a click would */
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.classList.contains("sec")) { jumpTo(target, false); }
    api.ready = true;
    api.setupMs = performance.now() - t0;
    document.body.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
