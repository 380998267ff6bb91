/// The dashboard's script (no libraries): loads the admin API's figures and draws the charts as
/// SVG with labelled axes — spend and savings per day as bars with the hit rate as a line on its
/// own axis, the same per key on click (or `#series=KEY_ID`), the what-if curve of hits and false
/// hits against the threshold, and the guard's refusals by reason.
enum DashboardScript {
    static let js = #"""
(() => {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("key")) { sessionStorage.setItem("afterimageAdminKey", params.get("key")); }
  const initialSeries = params.get("series");
  if (params.get("key")) history.replaceState(null, "", location.pathname);
  const $ = (id) => document.getElementById(id);
  const key = () => sessionStorage.getItem("afterimageAdminKey") || "";
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem("afterimageAdminKey", $("key-input").value); load(); });
  const api = async (path, options = {}) => {
    const response = await fetch(path, { ...options, headers: { "Authorization": "Bearer " + key(), "Content-Type": "application/json" } });
    if (!response.ok) { let m = response.status + ""; try { m = (await response.json()).error.message; } catch (_) {} throw new Error(m); }
    return response;
  };
  const day = (d) => d.toISOString().slice(0, 10);
  const to = new Date(Date.now() + 86400000), from = new Date(Date.now() - 29 * 86400000);
  const range = `from=${day(from)}&to=${day(to)}`;
  $("range").textContent = `${day(from)} – ${day(new Date())} (UTC)`;
  const usd = (s) => "$" + s;
  const pct = (r) => r == null ? "–" : (r * 100).toFixed(1) + "%";
  const cell = (row, text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; row.appendChild(td); return td; };
  const fill = (tbody, rows, columns, onClick) => {
    tbody.textContent = "";
    for (const r of rows) {
      const tr = document.createElement("tr"); columns.forEach(([f, cls]) => cell(tr, f(r), cls));
      if (onClick) { tr.className = "clickable"; tr.onclick = () => onClick(r, tr); }
      tbody.appendChild(tr);
    }
  };

  // SVG helpers: an element with attributes (and text), appended to a parent.
  const ns = "http://www.w3.org/2000/svg";
  const el = (parent, tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text != null) node.textContent = text;
    parent.appendChild(node); return node;
  };
  // About five round steps from 0 to at least `max`.
  const niceTicks = (max, whole = false) => {
    if (!(max > 0)) return [0, 1];
    const raw = max / 5, power = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 2.5, 5, 10].map(m => m * power).find(s => s >= raw);
    if (whole) step = Math.max(1, Math.ceil(step));
    const ticks = []; for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(v);
    if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
    return ticks;
  };
  const W = 760, H = 240, L = 64, R = 56, T = 14, B = 40, plotW = W - L - R, plotH = H - T - B;

  // Bars (stacked: spent, saved) per day on the left USD axis, hit rate as a line on the right axis.
  function dailyChart(svg, found) {
    svg.textContent = "";
    const byDay = Object.fromEntries(found.map(r => [r.day, r])), rows = [];
    for (let t = from.getTime(); t < to.getTime(); t += 86400000) {
      const d = day(new Date(t));
      rows.push(byDay[d] ?? { day: d, cost_usd: "0", saved_usd: "0", hit_rate: null, requests: 0 });
    }
    const top = Math.max(...rows.map(r => parseFloat(r.cost_usd) + parseFloat(r.saved_usd)), 0);
    const ticks = niceTicks(top), yMax = ticks[ticks.length - 1] || 1, y = (v) => T + plotH - v / yMax * plotH;
    for (const v of ticks) {
      el(svg, "line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" });
      el(svg, "text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "y-label" }, "$" + (yMax < 1 ? v.toFixed(3) : v.toFixed(2)));
    }
    for (const p of [0, 25, 50, 75, 100]) el(svg, "text", { x: W - R + 6, y: T + plotH - p / 100 * plotH + 4, class: "y2-label" }, p + "%");
    el(svg, "text", { x: 12, y: T + plotH / 2, transform: `rotate(-90 12 ${T + plotH / 2})`, "text-anchor": "middle" }, "USD");
    el(svg, "text", { x: W - 8, y: T + plotH / 2, transform: `rotate(90 ${W - 8} ${T + plotH / 2})`, "text-anchor": "middle" }, "hit rate");
    el(svg, "line", { x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, class: "axis" });
    const w = plotW / rows.length, bar = Math.min(Math.max(w - 3, 1), 28), every = Math.ceil(rows.length / 8);
    const points = [];
    rows.forEach((r, i) => {
      const x = L + i * w, spent = parseFloat(r.cost_usd), saved = parseFloat(r.saved_usd);
      const tip = `${r.day}: ${r.requests} requests, spent ${usd(r.cost_usd)}, saved ${usd(r.saved_usd)}, hit rate ${pct(r.hit_rate)}`;
      for (const [lo, hi, color] of [[0, spent, "#c0392b"], [spent, spent + saved, "#27ae60"]]) {
        if (hi <= lo) continue;
        const rect = el(svg, "rect", { x: x + (w - bar) / 2, width: bar, y: y(hi), height: y(lo) - y(hi), fill: color });
        el(rect, "title", {}, tip);
      }
      if (i % every === 0) el(svg, "text", { x: x + w / 2, y: H - B + 16, "text-anchor": "middle", class: "x-label" }, r.day.slice(5));
      if (r.hit_rate != null) points.push([x + w / 2, T + plotH - r.hit_rate * plotH, tip]);
    });
    el(svg, "text", { x: L + plotW / 2, y: H - 6, "text-anchor": "middle" }, "day (UTC, month-day)");
    el(svg, "polyline", { points: points.map(p => p[0] + "," + p[1]).join(" "), fill: "none", stroke: "#2c6fbb", "stroke-width": 2 });
    for (const [cx, cy, tip] of points) el(el(svg, "circle", { cx, cy, r: 3, fill: "#2c6fbb" }), "title", {}, tip);
  }

  // Hits and false hits of the logged lookups against the threshold (0.50–1.00), the same rule as
  // GET /admin/cache/what-if: served when the nearest candidate's similarity reaches it and the guard allowed it.
  function whatIfCurve(log, current) {
    const svg = $("whatif-curve"); svg.textContent = "";
    const steps = []; for (let i = 0; i <= 50; i++) steps.push(0.5 + i * 0.01);
    const serves = (e, t) => e.candidate_id != null && e.similarity != null && e.similarity >= t - 1e-9 && e.guard === "allowed";
    const curve = steps.map(t => ({ t, hits: log.filter(e => serves(e, t)).length, falseHits: log.filter(e => serves(e, t) && e.label === "different").length }));
    const ticks = niceTicks(Math.max(...curve.map(c => c.hits), 1), true), yMax = ticks[ticks.length - 1];
    const x = (t) => L + (t - 0.5) / 0.5 * plotW, y = (v) => T + plotH - v / yMax * plotH;
    for (const v of ticks) {
      el(svg, "line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" });
      el(svg, "text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "y-label" }, String(Math.round(v)));
    }
    for (let t = 0.5; t <= 1.0001; t += 0.1) el(svg, "text", { x: x(t), y: H - B + 16, "text-anchor": "middle", class: "x-label" }, t.toFixed(1));
    el(svg, "line", { x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, class: "axis" });
    el(svg, "text", { x: L + plotW / 2, y: H - 6, "text-anchor": "middle" }, "similarity threshold");
    el(svg, "text", { x: 12, y: T + plotH / 2, transform: `rotate(-90 12 ${T + plotH / 2})`, "text-anchor": "middle" }, "lookups served");
    for (const [field, color, name] of [["hits", "#2c6fbb", "hits"], ["falseHits", "#c0392b", "false hits"]]) {
      const line = el(svg, "polyline", { points: curve.map(c => x(c.t) + "," + y(c[field])).join(" "), fill: "none", stroke: color, "stroke-width": 2, class: "curve-" + field });
      el(line, "title", {}, name);
    }
    if (current != null) {
      el(svg, "line", { x1: x(current), x2: x(current), y1: T, y2: T + plotH, stroke: "#888", "stroke-dasharray": "4 3" });
      el(svg, "text", { x: x(current) + 4, y: T + 10 }, "threshold " + Number(current).toFixed(3));
    }
  }

  // Refusals by the guard's reason (the rule's name before any detail, e.g. antonym:hot/cold → antonym).
  function refusals(log) {
    const counts = {};
    for (const e of log) if (e.guard && e.guard.startsWith("refused:")) {
      const reason = e.guard.slice(8).split(":")[0];
      counts[reason] = (counts[reason] || 0) + 1;
    }
    const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]), total = rows.reduce((s, [, n]) => s + n, 0);
    fill($("refusals").querySelector("tbody"), rows, [[r => r[0]], [r => r[1], "num"], [r => pct(r[1] / total), "num"], [r => "█".repeat(Math.max(1, Math.round(r[1] / total * 20)))]]);
    $("refusals-note").textContent = total ? `${total} of ${log.length} logged lookups refused by the guard` : `no guard refusals among ${log.length} logged lookups`;
  }

  async function keySeries(row, tr) {
    document.querySelectorAll("#spend-per-key tr.selected").forEach(r => r.classList.remove("selected"));
    if (tr) tr.classList.add("selected");
    const rows = (await (await api(`/admin/usage?${range}&group_by=key,day`)).json()).rows.filter(r => r.key_id === row.key_id);
    $("key-series").hidden = false;
    $("key-series-title").textContent = `Key ${row.key_name ?? row.key_id}: spend, savings and hit rate per day`;
    dailyChart($("key-chart"), rows);
  }
  async function whatIf() {
    const t = $("threshold").value; $("threshold-value").textContent = Number(t).toFixed(3);
    const r = await (await api(`/admin/cache/what-if?threshold=${t}`)).json();
    $("whatif-result").textContent = `${r.lookups} logged lookups — now: ${r.current.hits} hits, saved ${usd(r.current.saved_usd)}; ` +
      `at ${Number(t).toFixed(3)}: ${r.at_threshold.hits} hits, saved ${usd(r.at_threshold.saved_usd)}; ` +
      `${r.would_become_hits.length} would become hits, ${r.would_become_misses.length} would become misses`;
  }
  async function suggestion() {
    const s = await (await api("/admin/cache/suggest-threshold?max_false_hit_rate=0.05")).json();
    $("suggestion").textContent = s.threshold != null
      ? `Suggested threshold ${s.threshold.toFixed(4)}: false-hit rate below ${(s.false_hit_upper_bound * 100).toFixed(2)}% with 95% confidence (${s.different} lookups labelled different, ${s.same} same)`
      : `No suggestion yet: ${s.labelled} labelled; a 95% bound below 5% needs at least ${s.more_different_labels_needed} more lookups labelled different`;
  }
  let fullLog = [];
  async function lookups() {
    fullLog = (await (await api("/admin/cache/lookups?limit=10000")).json()).data;
    whatIfCurve(fullLog, $("threshold").value);
    refusals(fullLog);
    const tbody = $("lookup-log").querySelector("tbody"); tbody.textContent = "";
    for (const e of fullLog.slice(0, 50)) {
      const tr = document.createElement("tr");
      cell(tr, e.created_at.replace("T", " ").replace("Z", ""));
      cell(tr, e.prompt ?? e.prompt_sha256.slice(0, 12) + "…");
      cell(tr, e.candidate_prompt ?? (e.candidate_sha256 ? e.candidate_sha256.slice(0, 12) + "…" : "–"));
      cell(tr, e.similarity == null ? "–" : e.similarity.toFixed(4), "num");
      cell(tr, e.guard ?? "–", e.guard == null ? "muted" : e.guard.startsWith("refused") ? "refused" : "allowed");
      cell(tr, e.decision);
      const labels = cell(tr, e.label ? e.label : "");
      if (!e.label && e.candidate_id != null) for (const label of ["same", "different"]) {
        const b = document.createElement("button"); b.textContent = label;
        b.onclick = async () => {
          await api("/admin/cache/labels", { method: "POST", body: JSON.stringify({ id: e.id, label }) });
          labels.textContent = label; e.label = label; whatIfCurve(fullLog, $("threshold").value);
        };
        labels.appendChild(b);
      }
      tbody.appendChild(tr);
    }
  }
  async function load() {
    $("error").textContent = "";
    if (!key()) { $("error").textContent = "Enter the admin key (AFTERIMAGE_ADMIN_KEY) to load the figures."; return; }
    try {
      const total = (await (await api(`/admin/usage?${range}`)).json()).total;
      $("kpi-requests").textContent = total.requests; $("kpi-hit-rate").textContent = pct(total.hit_rate);
      $("kpi-spent").textContent = usd(total.cost_usd); $("kpi-saved").textContent = usd(total.saved_usd); $("kpi-without").textContent = usd(total.cost_without_cache_usd);
      dailyChart($("chart"), (await (await api(`/admin/usage?${range}&group_by=day`)).json()).rows);
      const perKey = (await (await api(`/admin/usage?${range}&group_by=key`)).json()).rows.sort((a, b) => parseFloat(b.cost_usd) - parseFloat(a.cost_usd));
      fill($("spend-per-key").querySelector("tbody"), perKey,
        [[r => r.key_name ?? r.key_id ?? "(no key)"], [r => r.requests, "num"], [r => pct(r.hit_rate), "num"], [r => usd(r.cost_usd), "num"], [r => usd(r.saved_usd), "num"]],
        (r, tr) => keySeries(r, tr).catch(e => $("error").textContent = e.message));
      fill($("top-models").querySelector("tbody"), (await (await api(`/admin/usage?${range}&group_by=model`)).json()).rows
        .sort((a, b) => parseFloat(b.cost_without_cache_usd) - parseFloat(a.cost_without_cache_usd)).slice(0, 10),
        [[r => r.model ?? "–"], [r => r.requests, "num"], [r => r.images, "num"], [r => usd(r.cost_usd), "num"], [r => usd(r.saved_usd), "num"]]);
      const settings = await (await api("/admin/cache/settings")).json();
      if (!$("threshold").dataset.set) { $("threshold").value = settings.default_threshold; $("threshold").dataset.set = "1"; }
      await whatIf();
      await suggestion();
      await lookups();
      const chosen = initialSeries && perKey.find(r => r.key_id === initialSeries);
      if (chosen) await keySeries(chosen, null);
      document.body.dataset.loaded = "true";
    } catch (error) { $("error").textContent = "Could not load: " + error.message; }
  }
  $("threshold").addEventListener("input", () => { whatIfCurve(fullLog, $("threshold").value); whatIf().catch(e => $("error").textContent = e.message); });
  $("csv").addEventListener("click", async () => {
    const blob = await (await api(`/admin/usage?${range}&group_by=key&format=csv`)).blob();
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = `afterimage-spend-per-key-${day(new Date())}.csv`; a.click();
  });
  load();
})();
"""#
}
