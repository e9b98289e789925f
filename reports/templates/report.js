/* The findings list: filter, sort, search and group the embedded data, render it a page at a
   time. Every value from the data is set with textContent (never parsed as HTML). By default the
   failures come first (FAIL, ERROR, WAIVED, each by severity) and PASS and NOT_APPLICABLE rows
   are hidden until the "passes" box is ticked or a status is chosen. The initial state comes
   from the URL fragment, e.g. #st=FAIL&q=sqs&sort=rule&group=control or #passes=1. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var S = data.strings;
  function around(x, id) { return typeof x === "number" ? S[x] : S[x[0]] + id + S[x[1]]; }  /* html.py _around */
  var rows = data.findings.map(function (a) {   /* the compact rows of auditor/report/html.py */
    var rule = S[a[1]], meta = data.rules[rule] || ["", [], [], []];
    return {fp: a[0], rule: rule, title: meta[0], ctl: meta[1], fix: meta[2], refs: meta[3], sev: S[a[2]], st: S[a[3]], type: S[a[4]], id: a[5],
            acct: S[a[6]], region: S[a[7]], arn: around(a[8], a[5]), vpc: S[a[9]], item: a[10],
            msg: around(a[11], a[5]),
            ev: a[12].map(function (e) {
              return [S[e[0]], S[e[1]], S[e[2]], S[e[3]], e[4].map(function (x) { return S[x[0]] + x[1]; }),
                      e.length > 5 ? e[5].map(function (x) { return S[x]; }) : []];   /* explanation lines */
            }), waiver: S[a[13]], decl: a.length > 14 ? S[a[14]] : ""};   /* where a plan declares it */
  });
  var SEV = ["critical", "high", "medium", "low", "info"];
  var ST = ["FAIL", "ERROR", "WAIVED", "PASS", "NOT_APPLICABLE"];
  var QUIET = ["PASS", "NOT_APPLICABLE"];   /* hidden unless asked for */
  var KIND = {cli: "CLI", console: "Console", iac: "Infrastructure as code"};
  var ids = {st: "f-st", sev: "f-sev", rule: "f-rule", fw: "f-fw", q: "f-q", sort: "f-sort", group: "f-group",
             passes: "f-passes"};
  var body = document.getElementById("rows");
  var more = document.getElementById("more");
  var shown = document.getElementById("shown");
  var view = [];
  var done = 0;
  var hidden = 0;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function resource(f) {
    return f.type + " " + f.id + (f.item !== null ? " [" + f.item + "]" : "") + " " + f.acct + "/" + f.region;
  }
  function haystack(f) {
    if (f._h === undefined) {
      var parts = [f.rule, f.title, f.st, f.sev, resource(f), f.decl, f.arn, f.vpc, f.msg, f.waiver,
                   data.responses.lines[data.responses.by_finding[f.fp]] || ""];
      f.ev.forEach(function (e) { parts.push(e[0], e[1], e[2], e[4].join(" "), e[5].join("\n")); });
      f.ctl.forEach(function (c) { parts.push(c[0] + " " + c[1]); });
      f._h = parts.join("\n").toLowerCase();
    }
    return f._h;
  }
  function state() {
    var s = {};
    Object.keys(ids).forEach(function (k) {
      var e = document.getElementById(ids[k]);
      s[k] = e.type === "checkbox" ? (e.checked ? "1" : "") : e.value;
    });
    return s;
  }
  function fromHash() {
    var h = location.hash.replace(/^#/, "");
    if (!h) { return; }
    h.split("&").forEach(function (pair) {
      var i = pair.indexOf("=");
      if (i < 0) { return; }
      var k = decodeURIComponent(pair.slice(0, i)), v = decodeURIComponent(pair.slice(i + 1).replace(/\+/g, " "));
      if (!Object.prototype.hasOwnProperty.call(ids, k)) { return; }
      var e = document.getElementById(ids[k]);
      if (e.type === "checkbox") { e.checked = v === "1"; } else { e.value = v; }
    });
  }
  function toHash(s) {
    var parts = [];
    Object.keys(ids).forEach(function (k) { if (s[k]) { parts.push(k + "=" + encodeURIComponent(s[k])); } });
    try { history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname); } catch (e) { /* file: URLs in some browsers */ }
  }
  function rank(list, v) { var i = list.indexOf(v); return i < 0 ? list.length : i; }
  function compare(by) {
    return function (a, b) {
      var x = a.f, y = b.f, d = 0;
      if (a.key !== b.key) { return a.key < b.key ? -1 : 1; }
      if (by === "rule") { d = x.rule < y.rule ? -1 : x.rule > y.rule ? 1 : 0; }
      else if (by === "resource") { var p = resource(x), q = resource(y); d = p < q ? -1 : p > q ? 1 : 0; }
      else if (by === "status") { d = rank(ST, x.st) - rank(ST, y.st) || rank(SEV, x.sev) - rank(SEV, y.sev); }
      else { d = rank(SEV, x.sev) - rank(SEV, y.sev) || rank(ST, x.st) - rank(ST, y.st); }
      return d || a.n - b.n;
    };
  }
  function evidence(f) {
    var box = el("details");
    box.appendChild(el("summary", f.ev.length + " condition" + (f.ev.length === 1 ? "" : "s") + " · " + f.fp));
    f.ev.forEach(function (e) {
      var d = el("div", null, "ev");
      d.appendChild(el("div", "path: " + e[0], "mono"));
      d.appendChild(el("div", "observed: " + e[1], "mono"));
      d.appendChild(el("div", "expected: " + e[2]));
      d.appendChild(el("div", "verdict: " + e[3]));
      e[5].forEach(function (x) { d.appendChild(el("div", "why: " + x, "mono why")); });
      e[4].forEach(function (s) {
        var h = data.hashes[s.split("#")[0]];
        d.appendChild(el("div", "snapshot record: " + s + (h ? " (record " + h + ")" : ""), "mono src"));
      });
      box.appendChild(d);
    });
    if (data.manifest) { box.appendChild(el("div", "snapshot manifest SHA-256 (hashes every record): " + data.manifest, "mono muted")); }
    if (f.arn) { box.appendChild(el("div", "ARN: " + f.arn, "mono")); }
    if (f.ctl.length) {
      box.appendChild(el("div", "controls: " + f.ctl.map(function (c) { return c[0] + " " + c[1]; }).join(", ")));
    }
    if (f.waiver) { box.appendChild(el("div", "waiver: " + f.waiver)); }
    return box;
  }
  function why(f) {   /* how the derived values were decided (a PASS too): the first line, all on opening */
    var lines = [];
    f.ev.forEach(function (e) { e[5].forEach(function (x) { if (lines.indexOf(x) < 0) { lines.push(x); } }); });
    if (!lines.length) { return null; }
    var box = el("details", null, "why");
    box.appendChild(el("summary", "why: " + lines[0] + (lines.length > 1 ? " (+" + (lines.length - 1) + " more)" : ""), "mono"));
    lines.forEach(function (x) { box.appendChild(el("div", x, "mono why")); });
    return box;
  }
  function remediation(f) {   /* the rule's steps from its pack: console, CLI, IaC, references */
    var box = el("details", null, "fix");
    if (!f.fix.length && !f.refs.length) {
      box.appendChild(el("summary", "remediation: none recorded for " + f.rule));
      return box;
    }
    box.appendChild(el("summary", "remediation (" + f.fix.map(function (x) { return KIND[x[0]] || x[0]; })
      .concat(f.refs.length ? ["references"] : []).join(", ") + ")"));
    f.fix.forEach(function (x) {
      var d = el("div", null, "ev");
      d.appendChild(el("div", (KIND[x[0]] || x[0]) + ":", "fixkind"));
      d.appendChild(el(x[0] === "console" ? "div" : "pre", x[1], x[0] === "console" ? "fixtext" : "fixtext mono"));
      box.appendChild(d);
    });
    if (f.refs.length) {
      var r = el("div", null, "ev");
      r.appendChild(el("div", "References:", "fixkind"));
      f.refs.forEach(function (u) { r.appendChild(el("div", u, "mono")); });
      box.appendChild(r);
    }
    return box;
  }
  function response(f) {   /* management response (html.py responses_data), else "none recorded" */
    var R = data.responses, i = R.by_finding[f.fp];
    if (i === undefined) { return el("div", R.none, "response st-ERROR"); }
    return el("div", R.lines[i], R.overdue.indexOf(i) >= 0 ? "response st-ERROR" : "response");
  }
  function row(f) {
    var tr = el("tr", null, "finding");
    tr.dataset.fp = f.fp; tr.dataset.rule = f.rule; tr.dataset.st = f.st; tr.dataset.sev = f.sev;
    tr.appendChild(el("td", f.st, "st st-" + f.st));
    tr.appendChild(el("td", f.sev));
    var r = el("td"); r.appendChild(el("code", f.rule)); r.appendChild(el("div", f.title)); tr.appendChild(r);
    var res = el("td", resource(f), "mono res");
    if (f.decl) { res.appendChild(el("div", f.decl, "muted decl")); }
    tr.appendChild(res);
    var m = el("td"); m.appendChild(el("div", f.msg, "msg"));
    var w = why(f); if (w) { m.appendChild(w); }
    m.appendChild(evidence(f));
    if (QUIET.indexOf(f.st) < 0) { m.appendChild(remediation(f)); m.appendChild(response(f)); }
    tr.appendChild(m);
    return tr;
  }
  function page() {
    var frag = document.createDocumentFragment();
    var end = Math.min(view.length, done + data.page);
    for (var i = done; i < end; i++) {
      var v = view[i];
      if (v.key !== "" && (i === 0 || view[i - 1].key !== v.key)) {
        var g = el("tr", null, "group"), th = el("th", v.key); th.colSpan = 5; g.appendChild(th); frag.appendChild(g);
      }
      frag.appendChild(row(v.f));
    }
    body.appendChild(frag);
    done = end;
    more.hidden = done >= view.length;
    shown.textContent = "showing " + done + " of " + view.length + " (" + rows.length + " findings in all" +
      (hidden ? "; " + hidden + " PASS or NOT_APPLICABLE hidden" : "") + ")";
  }
  function apply() {
    var s = state(), q = s.q.trim().toLowerCase();
    toHash(s);
    view = [];
    hidden = 0;
    rows.forEach(function (f, n) {
      if ((s.st && f.st !== s.st) || (s.sev && f.sev !== s.sev) || (s.rule && f.rule !== s.rule)) { return; }
      if (s.fw && !f.ctl.some(function (c) { return c[0] === s.fw; })) { return; }
      if (q && haystack(f).indexOf(q) < 0) { return; }
      if (!s.st && !s.passes && QUIET.indexOf(f.st) >= 0) { hidden++; return; }
      if (s.group === "control") {
        var cited = f.ctl.filter(function (c) { return !s.fw || c[0] === s.fw; });
        if (!cited.length) { view.push({key: "(no framework control)", f: f, n: n}); }
        cited.forEach(function (c) { view.push({key: c[0] + " " + c[1], f: f, n: n}); });
      } else {
        view.push({key: s.group === "resource" ? f.type + " " + f.id + " " + f.acct + "/" + f.region : "", f: f, n: n});
      }
    });
    view.sort(compare(s.sort));
    body.textContent = "";
    done = 0;
    page();
    document.body.dataset.ready = "1";
  }
  fromHash();
  Object.keys(ids).forEach(function (k) {
    document.getElementById(ids[k]).addEventListener(k === "q" ? "input" : "change", apply);
  });
  more.addEventListener("click", page);
  window.addEventListener("scroll", function () {
    if (done < view.length && window.innerHeight + window.scrollY >= document.body.offsetHeight - 400) { page(); }
  });
  window.addEventListener("hashchange", function () { fromHash(); apply(); });
  apply();
}());
/* Network diagrams (sections/html_diagram.html.j2): pan by dragging, zoom with the wheel or the
   buttons, by changing each SVG's viewBox (no element is added; links keep working: a click that
   ended a drag does not follow them). */
(function () {
  "use strict";
  function box(svg) { return svg.getAttribute("viewBox").split(" ").map(Number); }
  function set(svg, b) { svg.setAttribute("viewBox", b.map(function (v) { return v.toFixed(2); }).join(" ")); }
  function zoom(svg, f, cx, cy) {   /* f > 1 zooms in, around (cx, cy) in diagram units */
    var b = box(svg), w = b[2] / f, h = b[3] / f;
    set(svg, [cx - (cx - b[0]) / f, cy - (cy - b[1]) / f, w, h]);
  }
  function point(svg, ev) {   /* the pointer in diagram units */
    var r = svg.getBoundingClientRect(), b = box(svg);
    var s = Math.max(b[2] / r.width, b[3] / r.height);   /* preserveAspectRatio meet */
    var ox = (r.width * s - b[2]) / 2, oy = (r.height * s - b[3]) / 2;
    return [b[0] + (ev.clientX - r.left) * s - ox, b[1] + (ev.clientY - r.top) * s - oy, s];
  }
  Array.prototype.forEach.call(document.querySelectorAll("figure.dg"), function (fig) {
    var svg = fig.querySelector(".dg-view svg");
    if (!svg) { return; }
    var home = box(svg), drag = null, moved = false;
    fig.addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest("button[data-zoom]") : null;
      if (b) {
        var c = box(svg);
        if (b.dataset.zoom === "reset") { set(svg, home); } else { zoom(svg, b.dataset.zoom === "in" ? 1.25 : 0.8, c[0] + c[2] / 2, c[1] + c[3] / 2); }
      } else if (moved) { ev.preventDefault(); }
    });
    svg.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var p = point(svg, ev);
      zoom(svg, ev.deltaY < 0 ? 1.15 : 1 / 1.15, p[0], p[1]);
    }, {passive: false});
    svg.addEventListener("pointerdown", function (ev) { drag = [ev.clientX, ev.clientY]; moved = false; });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      var dx = ev.clientX - drag[0], dy = ev.clientY - drag[1];
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
      moved = true;
      var s = point(svg, ev)[2], b = box(svg);
      set(svg, [b[0] - dx * s, b[1] - dy * s, b[2], b[3]]);
      drag = [ev.clientX, ev.clientY];
    });
    window.addEventListener("pointerup", function () { drag = null; });
  });
}());
