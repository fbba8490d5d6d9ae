import type { Context } from "hono";

/**
 * GET /_cache: the live cache inspector. The page holds no data; its script
 * (public/ops/cache-page.js, served as a static asset like the uPlot bundle)
 * asks for the admin token, keeps it in sessionStorage only, and reads
 * /v1/_cache/stats with it as a bearer header.
 */
export function cachePage(c: Context): Response {
	return c.html(PAGE, 200, {
		"Cache-Control": "no-store",
		"Content-Security-Policy":
			"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy": "no-referrer",
	});
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiercache · cache inspector</title>
<link rel="stylesheet" href="/vendor/uplot.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px; color: #111; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 20px 0 6px; }
  .note { color: #555; font-size: 12px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 8px; }
  .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
  .card b { display: block; font-size: 20px; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  td, th { border-bottom: 1px solid #eee; padding: 4px 6px; text-align: left; vertical-align: top; }
  form { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
  input[type=text], input[type=password] { padding: 6px; min-width: 280px; }
  .error { color: #b00020; } .ok { color: #0a7a3b; }
  #app[hidden], #signin-form[hidden] { display: none; }
</style>
</head>
<body>
<h1>tiercache · cache inspector</h1>
<p class="note">Counters come from the isolate that answers each poll of <code>/v1/_cache/stats</code>. A deployment runs many isolates, so
the numbers here are one isolate's view; locally there is one.</p>
<form id="signin-form">
  <input id="token" type="password" autocomplete="off" placeholder="admin token (ADMIN_TOKEN)">
  <button id="signin" type="submit">Sign in</button>
  <span id="signin-error" class="error"></span>
</form>
<div id="app" hidden>
  <p><button id="signout" type="button">Sign out</button> <span id="status" class="note"></span></p>
  <div class="grid">
    <div class="card">requests<b id="requests">–</b></div>
    <div class="card">origin loads<b id="origin-loads">–</b></div>
    <div class="card">memory hits<b id="hits-memory">–</b></div>
    <div class="card">colo hits<b id="hits-colo">–</b></div>
    <div class="card">kv hits<b id="hits-kv">–</b></div>
    <div class="card">stale serves<b id="stale">–</b></div>
    <div class="card">errors<b id="errors">–</b></div>
    <div class="card">memory tier<b id="memory-bytes">–</b></div>
  </div>
  <h2>Hit ratio per tier</h2><div id="chart-hits"></div>
  <h2>Origin loads, stale and error serves per second</h2><div id="chart-origin"></div>
  <h2>Purge</h2>
  <form id="purge-form">
    <input id="purge-tags" type="text" placeholder="tags, e.g. product:1 category:3">
    <button id="purge-submit" type="submit">Purge</button>
    <span id="purge-result"></span>
  </form>
  <h2>Purge queue</h2>
  <table><tbody id="queue"></tbody></table>
  <h2>Recent invalidations</h2>
  <table><thead><tr><th>at</th><th>source</th><th>seq</th><th>tags</th></tr></thead><tbody id="recent"></tbody></table>
</div>
<script src="/vendor/uplot.js"></script>
<script src="/ops/cache-page.js"></script>
</body>
</html>`;
