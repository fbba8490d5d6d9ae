#!/usr/bin/env node
// The /_cache page in a real browser: headless Chromium (Debian's package)
// driven by playwright-core against `npm run dev` on 127.0.0.1:8799. Signs in,
// sees the counters move after a burst of reads, purges a tag from the form,
// and checks that the next read of that tag misses. Saves a screenshot under
// test-results/. Skips, loudly, when Chromium is not installed.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const chromium =
	process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
if (!chromium) {
	console.log(
		"\n*** SKIPPED: the /_cache browser test needs Chromium (apt-get install chromium, or set CHROMIUM_PATH). ***\n",
	);
	process.exit(0);
}
const { chromium: playwright } = await import("playwright-core");
const { startDevServer } = await import("../../scripts/lib/dev-server.mjs");

const log = (line) => console.log(`browser: ${line}`);

function check(condition, message) {
	if (!condition) throw new Error(message);
	log(`ok: ${message}`);
}

let browser;
let stopServer = () => {};
let base = "";
try {
	({ base, stop: stopServer } = await startDevServer({ port: "8799" }));
	browser = await playwright.launch({
		executablePath: chromium,
		args: [
			"--headless",
			"--no-sandbox",
			"--disable-gpu",
			"--disable-background-networking",
			"--disable-quic",
			"--no-first-run",
		],
	});
	const page = await browser.newPage();
	const pageErrors = [];
	page.on("pageerror", (err) => pageErrors.push(err.message));
	const external = [];
	page.on("request", (req) => {
		if (!req.url().startsWith(base)) external.push(req.url());
	});

	await page.goto(`${base}/_cache`);
	check(await page.isVisible("#token"), "the page asks for the admin token");
	await page.fill("#token", "dev-admin-token");
	await page.click("#signin");
	await page.waitForFunction(() => /^\d+$/.test(document.getElementById("requests")?.textContent ?? ""), null, {
		timeout: 10_000,
	});
	check(!page.url().includes("dev-admin-token"), "the token is not in the URL");
	check((await page.context().cookies()).length === 0, "no cookie is set");
	check(
		(await page.evaluate(() => sessionStorage.getItem("tiercache.adminToken"))) === "dev-admin-token",
		"the token is kept in sessionStorage",
	);

	const before = Number(await page.textContent("#requests"));
	await Promise.all(
		Array.from({ length: 60 }, (_, i) => fetch(`${base}/v1/products/${(i % 20) + 1}`).then((r) => r.text())),
	);
	await page.waitForFunction((n) => Number(document.getElementById("requests")?.textContent) >= n + 60, before, {
		timeout: 10_000,
	});
	check(
		Number(await page.textContent("#hits-memory")) > 0,
		"the counters moved after a burst of reads (memory hits seen)",
	);
	await page.waitForFunction(() => document.querySelectorAll("#chart-hits canvas").length > 0, null, {
		timeout: 5_000,
	});
	check(true, "the hit-ratio chart is drawn");

	await fetch(`${base}/v1/products/7`).then((r) => r.text());
	const hit = await fetch(`${base}/v1/products/7`);
	await hit.text();
	check(
		/tiercache-memory; hit/.test(hit.headers.get("Cache-Status") ?? ""),
		"product 7 is a memory hit before the purge",
	);
	const statsOf = async () =>
		(await fetch(`${base}/v1/_cache/stats`, { headers: { Authorization: "Bearer dev-admin-token" } })).json();
	const beforePurge = await statsOf();
	await page.fill("#purge-tags", "product:7");
	await page.click("#purge-submit");
	await page.waitForFunction(
		() => /purged product:7/.test(document.getElementById("purge-result")?.textContent ?? ""),
		null,
		{
			timeout: 10_000,
		},
	);
	const after = await fetch(`${base}/v1/products/7`);
	await after.text();
	// Read twice, product 7 is hot: the purge re-warmed it (one more load) while it answered, so the next
	// read is a hit of the reloaded entry; a server with another isolate may miss it as invalidated instead.
	const stats = await statsOf();
	const status = after.headers.get("Cache-Status") ?? "";
	const rewarmed =
		stats.rewarm.keys === beforePurge.rewarm.keys + 1 && stats.origin.loads === beforePurge.origin.loads + 1;
	check(
		/detail=invalidated/.test(status) || (rewarmed && /tiercache-memory; hit/.test(status)),
		`the next read of product:7 is not the purged entry (${status}; re-warmed: ${rewarmed})`,
	);
	await page.waitForFunction(() => /product:7/.test(document.getElementById("recent")?.textContent ?? ""), null, {
		timeout: 10_000,
	});
	check(true, "the purge shows among recent invalidations");
	// The purge was announced to the location, and confirmed: the clock's row says so.
	const clockRow = await page.waitForFunction(
		() =>
			/announcements \(unconfirmed\) \/ failed looks\s*[1-9]\d* \(0\) \/ \d+/.exec(
				document.getElementById("queue")?.textContent ?? "",
			)?.[0],
		null,
		{ timeout: 10_000 },
	);
	check(true, `the clock's announcements show, none unconfirmed (${await clockRow.jsonValue()})`);

	// A page of reviews stores its product's page: the row of answers stored without a load counts it.
	// (Product 42 is not among the burst's: a page memory already holds unchanged is left as it is.)
	await (await fetch(`${base}/v1/products/42/reviews`)).text();
	const storedRow = await page.waitForFunction(
		() =>
			/answers stored without a load \(skipped\)\s*[1-9]\d* \(\d+\)/.exec(
				document.getElementById("queue")?.textContent ?? "",
			)?.[0],
		null,
		{ timeout: 10_000 },
	);
	check(true, `answers stored without a load show (${await storedRow.jsonValue()})`);

	mkdirSync(join(root, "test-results"), { recursive: true });
	await page.screenshot({ path: join(root, "test-results/cache-page.png"), fullPage: true });
	check(external.length === 0, `the page loaded nothing from another origin (${external.join(", ") || "none"})`);
	check(pageErrors.length === 0, `no script errors (${pageErrors.join("; ") || "none"})`);

	// The API reference: rendered from the Worker's own script, with no request
	// elsewhere (no registry, proxy, AI agent, fonts or telemetry).
	const docs = await browser.newPage();
	const docsExternal = [];
	docs.on("request", (req) => {
		if (!req.url().startsWith(base) && !req.url().startsWith("data:")) docsExternal.push(req.url());
	});
	await docs.goto(`${base}/docs`);
	await docs.waitForFunction(() => /tiercache catalog API/.test(document.body?.textContent ?? ""), null, {
		timeout: 20_000,
	});
	await docs.getByText("/v1/products/{id}").first().waitFor({ timeout: 10_000 });
	await docs.waitForTimeout(2_000); // anything loaded lazily after the first render
	check(!/Ask AI/i.test((await docs.textContent("body")) ?? ""), "the reference offers no AI agent");
	await docs.screenshot({ path: join(root, "test-results/docs-page.png") });
	check(
		docsExternal.length === 0,
		`/docs requested nothing from another origin (${docsExternal.join(", ") || "none"})`,
	);
	log("passed; screenshots: test-results/cache-page.png, test-results/docs-page.png");
} catch (err) {
	console.error(`browser: FAILED: ${err.message}`);
	process.exitCode = 1;
} finally {
	await browser?.close();
	stopServer();
}
