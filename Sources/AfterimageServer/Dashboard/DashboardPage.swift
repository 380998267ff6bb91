/// The built-in dashboard: one self-contained HTML page (no CDN, no network besides this server's
/// admin API). The admin key is entered once (or passed as `#key=…`) and kept in session storage;
/// every figure comes from `/admin/usage`, `/admin/cache/lookups`, `/admin/cache/what-if`,
/// `/admin/cache/settings` and `/admin/cache/labels`. The script is `DashboardScript.js`.
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
  svg.chart { width: 100%; height: 240px; } svg.chart text { font: 11px system-ui, sans-serif; fill: #556; }
  svg.chart .grid { stroke: #e4e7ec; } svg.chart .axis { stroke: #99a; }
  tr.clickable { cursor: pointer; } tr.clickable:hover { background: #f0f4fa; } tr.selected { background: #e3ecf8; }
  .legend span { margin-right: 12px; } .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
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
  <section><h2>Spend, savings and hit rate per day</h2><svg id="chart" class="chart" viewBox="0 0 760 240"></svg>
    <div class="legend muted"><span><i class="swatch" style="background:#c0392b"></i>spent (USD, left axis)</span><span><i class="swatch" style="background:#27ae60"></i>saved (USD, left axis)</span><span><i class="swatch" style="background:#2c6fbb"></i>hit rate (right axis)</span></div></section>
  <section id="key-series" hidden><h2 id="key-series-title">Key</h2><svg id="key-chart" class="chart" viewBox="0 0 760 240"></svg>
    <div class="muted">Click another key in “Spend per key” to compare; the same axes as above.</div></section>
  <section class="half"><h2>Spend per key <button id="csv">Download CSV</button> <span class="muted">(click a key for its days)</span></h2>
    <table id="spend-per-key"><thead><tr><th>key</th><th class="num">requests</th><th class="num">hit rate</th><th class="num">spent</th><th class="num">saved</th></tr></thead><tbody></tbody></table></section>
  <section class="half"><h2>Top models</h2>
    <table id="top-models"><thead><tr><th>model</th><th class="num">requests</th><th class="num">images</th><th class="num">spent</th><th class="num">saved</th></tr></thead><tbody></tbody></table></section>
  <section class="half"><h2>Threshold what-if</h2>
    <svg id="whatif-curve" class="chart" viewBox="0 0 760 240"></svg>
    <div class="legend muted"><span><i class="swatch" style="background:#2c6fbb"></i>hits</span><span><i class="swatch" style="background:#c0392b"></i>false hits (labelled different)</span><span><i class="swatch" style="background:#888"></i>threshold chosen below</span></div>
    <input id="threshold" type="range" min="0.5" max="1" step="0.005" style="width:60%"> <b id="threshold-value"></b>
    <div id="whatif-result" class="muted">–</div>
    <div id="suggestion" class="muted">–</div></section>
  <section class="half"><h2>Guard refusals by reason</h2>
    <table id="refusals"><thead><tr><th>reason</th><th class="num">refusals</th><th class="num">share</th><th></th></tr></thead><tbody></tbody></table>
    <div id="refusals-note" class="muted"></div></section>
  <section><h2>Lookup log</h2>
    <table id="lookup-log"><thead><tr><th>time</th><th>looked up</th><th>nearest cached</th><th class="num">similarity</th><th>guard</th><th>decision</th><th>label</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
"""# + DashboardScript.js + #"""
</script>
</body>
</html>
"""#
}
