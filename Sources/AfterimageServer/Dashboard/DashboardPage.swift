/// The built-in dashboard: one self-contained HTML page (no CDN, no network besides this server's
/// admin API). The admin key is entered once (or passed as `#key=…`) and kept in session storage;
/// every figure comes from `/admin/usage`, `/admin/cache/lookups`, `/admin/cache/what-if`,
/// `/admin/cache/settings` and `/admin/cache/labels`.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Afterimage dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; align-items: center; gap: 16px; }
  header h1 { font-size: 18px; margin: 0; flex: 1; }
  main { padding: 16px 24px; display: grid; gap: 16px; grid-template-columns: repeat(12, 1fr); }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); grid-column: span 12; }
  section.half { grid-column: span 6; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .kpis { display: flex; gap: 24px; flex-wrap: wrap; }
  .kpi { min-width: 120px; } .kpi b { display: block; font-size: 22px; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .refused { color: #b3261e; } .allowed { color: #1e7a34; }
  button { cursor: pointer; } #error { color: #b3261e; } .muted { color: #667; }
  svg { width: 100%; height: 160px; }
</style>
</head>
<body>
<header>
  <h1>Afterimage</h1>
  <form id="key-form"><input id="key-input" type="password" placeholder="admin key" autocomplete="off"> <button>Use key</button></form>
  <span id="range" class="muted"></span>
</header>
<main>
  <section><div id="error"></div>
    <div class="kpis">
      <div class="kpi">Requests<b id="kpi-requests">–</b></div>
      <div class="kpi">Hit rate<b id="kpi-hit-rate">–</b></div>
      <div class="kpi">Spent<b id="kpi-spent">–</b></div>
      <div class="kpi">Saved by the cache<b id="kpi-saved">–</b></div>
      <div class="kpi">Without the cache<b id="kpi-without">–</b></div>
    </div>
  </section>
  <section><h2>Hit rate and savings over time (per day)</h2><svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none"></svg>
    <div class="muted">bars: <span style="color:#c0392b">spent</span> / <span style="color:#27ae60">saved</span> · line: hit rate</div></section>
  <section class="half"><h2>Spend per key <button id="csv">Download CSV</button></h2>
    <table id="spend-per-key"><thead><tr><th>key</th><th class="num">requests</th><th class="num">hit rate</th><th class="num">spent</th><th class="num">saved</th></tr></thead><tbody></tbody></table></section>
  <section class="half"><h2>Top models</h2>
    <table id="top-models"><thead><tr><th>model</th><th class="num">requests</th><th class="num">images</th><th class="num">spent</th><th class="num">saved</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Threshold what-if</h2>
    <input id="threshold" type="range" min="0.5" max="1" step="0.005" style="width:60%"> <b id="threshold-value"></b>
    <div id="whatif-result" class="muted">–</div>
    <div id="suggestion" class="muted">–</div></section>
  <section><h2>Lookup log</h2>
    <table id="lookup-log"><thead><tr><th>time</th><th>looked up</th><th>nearest cached</th><th class="num">similarity</th><th>guard</th><th>decision</th><th>label</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
(() => {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("key")) { sessionStorage.setItem("afterimageAdminKey", params.get("key")); history.replaceState(null, "", location.pathname); }
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
  const fill = (tbody, rows, columns) => {
    tbody.textContent = "";
    for (const r of rows) { const tr = document.createElement("tr"); columns.forEach(([f, cls]) => cell(tr, f(r), cls)); tbody.appendChild(tr); }
  };
  function chart(found) {
    const svg = $("chart"); svg.textContent = "";
    // Every day of the range, empty ones included.
    const byDay = Object.fromEntries(found.map(r => [r.day, r])), rows = [];
    for (let t = from.getTime(); t < to.getTime(); t += 86400000) {
      const d = day(new Date(t));
      rows.push(byDay[d] ?? { day: d, cost_usd: "0", saved_usd: "0", cost_without_cache_usd: "0", hit_rate: null });
    }
    const max = Math.max(...rows.map(r => parseFloat(r.cost_without_cache_usd)), 1e-9), w = 600 / rows.length;
    const ns = "http://www.w3.org/2000/svg";
    let points = [];
    rows.forEach((r, i) => {
      const spent = parseFloat(r.cost_usd) / max * 150, saved = parseFloat(r.saved_usd) / max * 150;
      for (const [h, y, color] of [[spent, 160 - spent, "#c0392b"], [saved, 160 - spent - saved, "#27ae60"]]) {
        const rect = document.createElementNS(ns, "rect");
        const bar = Math.min(Math.max(w - 4, 1), 40);
        rect.setAttribute("x", i * w + (w - bar) / 2); rect.setAttribute("width", bar); rect.setAttribute("y", y); rect.setAttribute("height", h); rect.setAttribute("fill", color);
        const title = document.createElementNS(ns, "title"); title.textContent = `${r.day}: spent ${usd(r.cost_usd)}, saved ${usd(r.saved_usd)}, hit rate ${pct(r.hit_rate)}`;
        rect.appendChild(title); svg.appendChild(rect);
      }
      if (r.hit_rate != null) points.push(`${i * w + w / 2},${160 - r.hit_rate * 150}`);
    });
    for (const p of points) {
      const [cx, cy] = p.split(","), dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", cx); dot.setAttribute("cy", cy); dot.setAttribute("r", 2.5); dot.setAttribute("fill", "#2c6fbb"); svg.appendChild(dot);
    }
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" ")); line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2c6fbb"); line.setAttribute("stroke-width", "2");
    svg.appendChild(line);
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
  async function lookups() {
    const log = (await (await api("/admin/cache/lookups?limit=50")).json()).data;
    const tbody = $("lookup-log").querySelector("tbody"); tbody.textContent = "";
    for (const e of log) {
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
        b.onclick = async () => { await api("/admin/cache/labels", { method: "POST", body: JSON.stringify({ id: e.id, label }) }); labels.textContent = label; };
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
      chart((await (await api(`/admin/usage?${range}&group_by=day`)).json()).rows);
      fill($("spend-per-key").querySelector("tbody"), (await (await api(`/admin/usage?${range}&group_by=key`)).json()).rows
        .sort((a, b) => parseFloat(b.cost_usd) - parseFloat(a.cost_usd)),
        [[r => r.key_name ?? r.key_id ?? "(no key)"], [r => r.requests, "num"], [r => pct(r.hit_rate), "num"], [r => usd(r.cost_usd), "num"], [r => usd(r.saved_usd), "num"]]);
      fill($("top-models").querySelector("tbody"), (await (await api(`/admin/usage?${range}&group_by=model`)).json()).rows
        .sort((a, b) => parseFloat(b.cost_without_cache_usd) - parseFloat(a.cost_without_cache_usd)).slice(0, 10),
        [[r => r.model ?? "–"], [r => r.requests, "num"], [r => r.images, "num"], [r => usd(r.cost_usd), "num"], [r => usd(r.saved_usd), "num"]]);
      const settings = await (await api("/admin/cache/settings")).json();
      if (!$("threshold").dataset.set) { $("threshold").value = settings.default_threshold; $("threshold").dataset.set = "1"; }
      await whatIf();
      await suggestion();
      await lookups();
      document.body.dataset.loaded = "true";
    } catch (error) { $("error").textContent = "Could not load: " + error.message; }
  }
  $("threshold").addEventListener("input", () => whatIf().catch(e => $("error").textContent = e.message));
  $("csv").addEventListener("click", async () => {
    const blob = await (await api(`/admin/usage?${range}&group_by=key&format=csv`)).blob();
    const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = `afterimage-spend-per-key-${day(new Date())}.csv`; a.click();
  });
  load();
})();
</script>
</body>
</html>
"""#
}
