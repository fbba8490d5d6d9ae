#!/usr/bin/env node
// npm run bench -- [--quick] [--duration S] [--connections N] [--origin-delay MS]
//                  [--write-ratio R] [--variants a,b] [--json FILE]
// Runs one workload against five variants of the Worker on the local runtime
// (Miniflare), each on its own copy of the same seeded D1, then a stampede, a
// two-location convergence test, and writes a table, JSON and an SVG chart.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import { seedCatalog } from "../scripts/lib/seed-local.mjs";
import { signWebhook } from "../scripts/lib/webhook-sign.mjs";
import { createLatencyHistogram } from "./lib/histogram.mjs";
import { renderSvg, renderTable } from "./lib/report.mjs";
import { clockWaitMs } from "./lib/server-timing.mjs";
import { productsIn, StaleDetector } from "./lib/stale.mjs";
import { createRandom, createZipf } from "./lib/zipf.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const VARIANTS = ["constant", "d1-direct", "hono-cache", "kv-only", "tiercache"];
const DB_ID = "00000000-0000-4000-8000-000000000000";
const ADMIN_TOKEN = "bench-admin-token";
const WEBHOOK_SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtZm9yLXRpZXJjYWNoZQ==";

const { values: args } = parseArgs({
	options: {
		quick: { type: "boolean", default: false },
		duration: { type: "string" },
		connections: { type: "string" },
		"origin-delay": { type: "string", default: "50" },
		"write-ratio": { type: "string", default: "0.01" },
		variants: { type: "string", default: VARIANTS.join(",") },
		products: { type: "string", default: "10000" },
		json: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	},
});
if (args.help) {
	console.log(
		readFileSync(fileURLToPath(import.meta.url), "utf8")
			.split("\n")
			.slice(1, 3)
			.join("\n")
			.replaceAll("// ", ""),
	);
	process.exit(0);
}
const number = (name, value, min, max) => {
	const n = Number(value);
	if (!Number.isFinite(n) || n < min || n > max) {
		console.error(`bench: --${name} must be a number from ${min} to ${max} (got '${value}')`);
		process.exit(2);
	}
	return n;
};
const config = {
	originDelayMs: number("origin-delay", args["origin-delay"], 0, 5000),
	durationS: number("duration", args.duration ?? (args.quick ? 4 : 20), 1, 600),
	warmupS: args.quick ? 0.5 : 3,
	connections: number("connections", args.connections ?? (args.quick ? 16 : 32), 1, 256),
	zipfS: 1.1,
	writeRatio: number("write-ratio", args["write-ratio"], 0, 0.5),
	products: number("products", args.products, 100, 100_000),
	quick: args.quick,
	mix: { product: 0.7, listing: 0.15, reviews: 0.15 },
};
const variants = args.variants.split(",").map((v) => v.trim());
for (const v of variants) {
	if (!VARIANTS.includes(v)) {
		console.error(`bench: unknown variant '${v}' (one of ${VARIANTS.join(", ")})`);
		process.exit(2);
	}
}

const log = (line) => console.error(`bench: ${line}`);
const started = performance.now();
const work = mkdtempSync(join(os.tmpdir(), "tiercache-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

// ---- build and seed -------------------------------------------------------

function run(command, commandArgs) {
	const result = spawnSync(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
	if (result.status !== 0) {
		console.error(result.stdout, result.stderr);
		throw new Error(`${command} ${commandArgs.join(" ")} failed`);
	}
}

log("bundling bench/worker.ts");
run(join(root, "node_modules/.bin/wrangler"), [
	"deploy",
	"--dry-run",
	"--outdir",
	join(root, "bench/.build"),
	"-c",
	"bench/wrangler.bench.toml",
]);
const template = join(work, "template");
log("applying migrations to a template D1");
run(join(root, "node_modules/.bin/wrangler"), ["d1", "migrations", "apply", "DB", "--local", "--persist-to", template]);

function miniflare(state, variant, { bindings = {}, ...extra } = {}) {
	return new Miniflare({
		modules: true,
		scriptPath: join(root, "bench/.build/worker.js"),
		compatibilityDate: "2026-04-20",
		compatibilityFlags: ["nodejs_compat"],
		d1Databases: { DB: DB_ID },
		kvNamespaces: { CACHE_KV: "bench-kv" },
		queueProducers: { PURGE_QUEUE: "tiercache-purge" },
		ratelimits: { WEBHOOK_RATE_LIMITER: { simple: { limit: 10_000, period: 60 } } },
		d1Persist: join(state, "v3", "d1"),
		kvPersist: join(state, "v3", "kv"),
		cachePersist: false,
		bindings: {
			BENCH_VARIANT: variant,
			// The baselines log nothing either.
			LOG_REQUESTS: "off",
			ENVIRONMENT: "development",
			ORIGIN_DELAY_MS: String(config.originDelayMs),
			ADMIN_TOKEN,
			PURGE_WEBHOOK_SECRET: WEBHOOK_SECRET,
			...bindings,
		},
		...extra,
	});
}

{
	log(`seeding ${config.products} products`);
	const mf = miniflare(template, "d1-direct");
	await mf.ready;
	await seedCatalog(
		await mf.getD1Database("DB"),
		{
			seed: "tiercache",
			products: config.products,
			reviews: config.products * 5,
			categories: 24,
		},
		() => {},
	);
	await mf.dispose();
}

function copyState(name) {
	const dir = join(work, name);
	cpSync(template, dir, { recursive: true });
	return dir;
}

// ---- the workload ---------------------------------------------------------

const random = createRandom("bench-workload");
const productZipf = createZipf(config.products, config.zipfS, random.next);
const pageZipf = createZipf(Math.ceil(config.products / 20), config.zipfS, random.next);
const CATEGORY_SLUGS = ["kitchen", "garden", "outdoor", "office", "lighting", "bath", "bedroom", "toys"];

function nextRequest() {
	const u = random.next();
	if (u < config.writeRatio) return { kind: "write", id: productZipf.next() };
	const r = random.next();
	if (r < config.mix.product) return { kind: "product", path: `/v1/products/${productZipf.next()}` };
	if (r < config.mix.product + config.mix.listing) {
		const path =
			random.next() < 0.5
				? `/v1/products?page=${pageZipf.next()}&limit=20`
				: `/v1/products?category=${CATEGORY_SLUGS[pageZipf.next() % CATEGORY_SLUGS.length]}&limit=20`;
		return { kind: "listing", path };
	}
	return { kind: "reviews", path: `/v1/products/${productZipf.next()}/reviews?limit=10` };
}

/** Which tier answered: tiercache's Cache-Status, or the kv-only variant's marker. */
function servedBy(headers) {
	const hit = /tiercache-(memory|colo|kv); hit/.exec(headers.get("Cache-Status") ?? "");
	return hit ? hit[1] : (headers.get("X-Bench-Served") ?? "origin");
}

async function load(base, seconds, { record, checkStale = true }) {
	const histogram = createLatencyHistogram();
	const byTier = new Map();
	const stale = new StaleDetector();
	// Waits for the invalidation clock, from the Server-Timing of answers that carry one.
	const clockWaits = createLatencyHistogram();
	let timed = 0;
	let requests = 0;
	let errors = 0;
	let writes = 0;
	const until = performance.now() + seconds * 1000;
	async function worker() {
		while (performance.now() < until) {
			const op = nextRequest();
			const issuedAt = performance.now();
			try {
				if (op.kind === "write") {
					const res = await fetch(`${base}/v1/products/${op.id}`, {
						method: "PATCH",
						headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
						body: JSON.stringify({ stock: Math.floor(random.next() * 1000) }),
					});
					const body = await res.json();
					if (res.status !== 200) errors++;
					else if (record) stale.acknowledge(op.id, body.data.updatedAt, performance.now());
					writes++;
					continue;
				}
				const res = await fetch(base + op.path);
				const text = await res.text();
				if (res.status >= 500 && errors < 3) log(`${res.status} for ${op.path}: ${text.slice(0, 300)}`);
				const ms = performance.now() - issuedAt;
				if (!record) continue;
				requests++;
				histogram.recordMs(ms);
				if (res.status !== 200) errors++;
				const timing = res.headers.get("Server-Timing");
				if (timing !== null) {
					timed++;
					const wait = clockWaitMs(timing);
					if (wait !== undefined) clockWaits.recordMs(wait);
				}
				const tier = servedBy(res.headers);
				if (!byTier.has(tier)) byTier.set(tier, createLatencyHistogram());
				byTier.get(tier).recordMs(ms);
				if (checkStale && op.kind !== "reviews") stale.check(productsIn(JSON.parse(text)), issuedAt);
			} catch (err) {
				errors++;
				if (errors < 5) log(`request failed: ${err.cause?.message ?? err.message}`);
			}
		}
	}
	const t0 = performance.now();
	await Promise.all(Array.from({ length: config.connections }, worker));
	const elapsed = (performance.now() - t0) / 1000;
	return { histogram, byTier, stale, requests, errors, writes, elapsed, clockWaits, timed };
}

/** Hits only: 50 hot products, read again and again, after they were read once. */
async function hitPath(base, seconds = config.quick ? 1.5 : 5) {
	const paths = Array.from({ length: 50 }, (_, i) => `/v1/products/${i + 1}`);
	for (const path of paths) await (await fetch(base + path)).text();
	const histogram = createLatencyHistogram();
	let n = 0;
	const until = performance.now() + seconds * 1000;
	await Promise.all(
		Array.from({ length: config.connections }, async () => {
			while (performance.now() < until) {
				const t0 = performance.now();
				const res = await fetch(base + paths[n++ % paths.length]);
				await res.text();
				histogram.recordMs(performance.now() - t0);
			}
		}),
	);
	return {
		rps: Math.round(n / seconds),
		p50Ms: round(histogram.percentileMs(50)),
		p99Ms: round(histogram.percentileMs(99)),
	};
}

async function benchStats(base) {
	return (await fetch(`${base}/__bench/stats`)).json();
}

const results = { config: { ...config, variants }, variants: {}, tierLatency: {} };

for (const variant of variants) {
	const mf = miniflare(copyState(variant), variant);
	const base = (await mf.ready).origin;
	log(`${variant}: warming up ${config.warmupS} s, then ${config.durationS} s at ${config.connections} connections`);
	await load(base, config.warmupS, { record: false });
	const before = await benchStats(base);
	// The constant body stands for no product's real version: no stale check.
	const run = await load(base, config.durationS, { record: true, checkStale: variant !== "constant" });
	const after = await benchStats(base);
	// d1-direct has no hit path: every read is an origin load.
	const hits = variant === "d1-direct" ? { rps: null, p50Ms: null, p99Ms: null } : await hitPath(base);
	await mf.dispose();
	const reads = Math.max(1, after.reads - before.reads);
	const originLoads = after.originLoads - before.originLoads;
	const hit = (tier) => (after.hits[tier] - before.hits[tier]) / reads;
	results.variants[variant] = {
		requests: run.requests,
		writes: run.writes,
		throughputRps: Math.round(run.requests / run.elapsed),
		p50Ms: round(run.histogram.percentileMs(50)),
		p95Ms: round(run.histogram.percentileMs(95)),
		p99Ms: round(run.histogram.percentileMs(99)),
		originLoadsPer1k: variant === "constant" ? 0 : round((originLoads / reads) * 1000, 1),
		staleReads: run.stale.staleReads,
		checkedReads: run.stale.checkedReads,
		errors: run.errors,
		hitRatio: { memory: round(hit("memory"), 3), colo: round(hit("colo"), 3), kv: round(hit("kv"), 3) },
		// Only hot, unchanging keys: the cost of a hit, no misses or writes around it.
		hitPathRps: hits.rps,
		hitPathP50Ms: hits.p50Ms,
		hitPathP99Ms: hits.p99Ms,
		// Latency of answers served by a cache tier (where the variant says which).
		hitP50Ms: hitLatency(run.byTier, 50),
		hitP99Ms: hitLatency(run.byTier, 99),
	};
	// Only a variant whose answers carry Server-Timing (tiercache) can say whether they waited for the clock.
	if (run.timed > 0) {
		const n = run.clockWaits.count;
		results.variants[variant].clockWaits = {
			share: round(n / Math.max(1, run.requests), 4),
			count: n,
			p50Ms: n ? round(run.clockWaits.percentileMs(50)) : 0,
			p99Ms: n ? round(run.clockWaits.percentileMs(99)) : 0,
			maxMs: n ? round(run.clockWaits.percentileMs(100)) : 0,
			// The engine's own count over the phase (clock.waits), as a cross-check of the headers.
			engineWaits: after.clock && before.clock ? after.clock.waits - before.clock.waits : null,
		};
	}
	if (variant === "tiercache") {
		for (const [tier, h] of run.byTier)
			results.tierLatency[tier] = {
				count: h.count,
				p50Ms: round(h.percentileMs(50)),
				p99Ms: round(h.percentileMs(99)),
			};
	}
}

for (const [name, v] of Object.entries(results.variants)) {
	const constant = results.variants.constant;
	const direct = results.variants["d1-direct"];
	v.vsConstant = constant
		? { throughput: round(v.throughputRps / constant.throughputRps, 3), p50: round(v.p50Ms / constant.p50Ms, 2) }
		: undefined;
	v.vsD1Direct = direct
		? { throughput: round(v.throughputRps / direct.throughputRps, 2), p50: round(v.p50Ms / direct.p50Ms, 3) }
		: undefined;
	if (name === "constant") v.hitRatio = { memory: 0, colo: 0, kv: 0 };
}

// ---- stampede: N concurrent cold requests for one key ----------------------

{
	const concurrent = 64;
	results.stampede = { concurrent };
	for (const variant of ["d1-direct", "tiercache"].filter((v) => variants.includes(v))) {
		const mf = miniflare(copyState(`stampede-${variant}`), variant);
		const base = (await mf.ready).origin;
		const before = await benchStats(base);
		await Promise.all(
			Array.from({ length: concurrent }, () => fetch(`${base}/v1/products/4242`).then((r) => r.text())),
		);
		const after = await benchStats(base);
		await mf.dispose();
		const loads = after.originLoads - before.originLoads;
		if (variant === "tiercache") results.stampede.originLoads = loads;
		else results.stampede.originLoadsWithoutCache = loads;
	}
	log(
		`stampede: ${concurrent} concurrent cold requests -> ${results.stampede.originLoads} origin load(s) with tiercache`,
	);
}

// ---- two locations: shared D1 and KV, separate Cache API and memory -------
//
// Two Miniflare instances on one D1 and one KV directory, each with its own
// Cache API and isolate. Workers KV is eventually consistent, which a shared
// directory is not: every location reads and writes KV through the lagging
// wrapper (bench/lib/lagging-kv.ts), and location B's reads see values as
// they were `kvLagS` seconds earlier (A, where the changes are made, reads its
// own writes). The warm-up's KV writes are stamped `kvLagS + 5` s in the past,
// standing for entries stored long before the change: B's KV then holds the
// old version of each product, and none of the new one, for the whole test.
// Each path changes the name of its own product and measures the time from
// the commit (or the webhook's 202) until B serves the new name.

if (variants.includes("tiercache")) {
	const kvLagS = 60;
	const timeoutMs = 10_000;
	const pathIds = { write: 11, webhook: 12, rawSql: 13 };
	const kvProbeId = 7; // warmed at A only, never changed: a new location's first read of it
	const state = copyState("two-locations");
	const location = async (lagS) => {
		const mf = miniflare(state, "tiercache", { bindings: { BENCH_KV_LAG_S: String(lagS) } });
		return { mf, base: (await mf.ready).origin };
	};
	const a = await location(0);
	const b = await location(kvLagS);
	const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
	const read = async (base, id) => {
		const res = await fetch(`${base}/v1/products/${id}`);
		const body = await res.json();
		return { name: body.data?.name, status: res.headers.get("Cache-Status"), timing: res.headers.get("Server-Timing") };
	};
	const backdate = async (ms) => {
		for (const { base } of [a, b])
			await (await fetch(`${base}/__bench/kv-backdate?ms=${ms}`, { method: "POST" })).text();
	};
	const cacheStats = async (base) =>
		(await fetch(`${base}/v1/_cache/stats`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();

	// Warm-up: A loads every product (memory, Cache API, KV); once its KV
	// writes (in waitUntil) have landed, B reads each three times: a KV hit of
	// the old version, then memory hits.
	await backdate((kvLagS + 5) * 1000);
	for (const id of [...Object.values(pathIds), kvProbeId]) for (let i = 0; i < 3; i++) await read(a.base, id);
	await sleep(500);
	const bFirstWarmRead = {};
	for (const [path, id] of Object.entries(pathIds)) {
		bFirstWarmRead[path] = (await read(b.base, id)).status;
		for (let i = 0; i < 2; i++) await read(b.base, id);
	}
	await sleep(500);
	await backdate(0);

	const d1 = await a.mf.getD1Database("DB");
	const rename = (id, name) => d1.prepare("UPDATE products SET name = ?1 WHERE id = ?2").bind(name, id).run();
	/** Each makes the change and returns when it was committed (or accepted: the webhook's 202). */
	const changes = {
		async write(id, name) {
			const res = await fetch(`${a.base}/v1/products/${id}`, {
				method: "PATCH",
				headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
				body: JSON.stringify({ name }),
			});
			await res.text();
			if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`);
			return performance.now();
		},
		async webhook(id, name) {
			await rename(id, name);
			const body = JSON.stringify({ tags: [`product:${id}`] });
			const res = await fetch(`${a.base}/v1/webhooks/purge`, {
				method: "POST",
				headers: await signWebhook(WEBHOOK_SECRET, body),
				body,
			});
			await res.text();
			if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
			return performance.now();
		},
		async rawSql(id, name) {
			await rename(id, name);
			return performance.now();
		},
	};

	// Several rounds per path. Before each change B has steady traffic (a read
	// every 20 ms for 0.2–1 s), so the change lands at a random point of its
	// clock's refresh cycle; the path's figure is the worst round.
	const rounds = config.quick ? 3 : 5;
	const phase = createRandom("two-locations");
	const tiers = ["memory", "colo", "kv"];
	async function measure(path, id, round) {
		let before;
		const until = performance.now() + 200 + phase.next() * 800;
		do {
			before = await read(b.base, id);
			await sleep(20);
		} while (performance.now() < until);
		const statsBefore = await cacheStats(b.base);
		const name = `${path} renamed ${round} ${Date.now()}`;
		const committedAt = await changes[path](id, name);
		const atA = read(a.base, id);
		let after;
		let polls = 0;
		while (performance.now() - committedAt < timeoutMs) {
			const r = await read(b.base, id);
			polls++;
			if (r.name === name) {
				after = { ...r, ms: Math.round(performance.now() - committedAt) };
				break;
			}
			await sleep(20);
		}
		const statsAfter = await cacheStats(b.base);
		const last = after ?? (await read(b.base, id));
		return {
			ms: after ? after.ms : -1,
			converged: after !== undefined,
			polls,
			bStatusBefore: before.status,
			bStatusAfter: last.status,
			bServerTimingAfter: last.timing,
			rejected: tiers.map((t) => statsAfter.tiers[t].invalidated - statsBefore.tiers[t].invalidated),
			aFreshAtOnce: (await atA).name === name,
		};
	}

	const paths = {};
	for (const [path, id] of Object.entries(pathIds)) {
		const samples = [];
		for (let round = 1; round <= rounds; round++) samples.push(await measure(path, id, round));
		const converged = samples.every((r) => r.converged);
		const worst = converged ? samples.reduce((w, r) => (r.ms > w.ms ? r : w)) : samples.find((r) => !r.converged);
		paths[path] = {
			productId: id,
			convergenceMs: worst.ms,
			converged,
			samplesMs: samples.map((r) => r.ms),
			// Of the worst round: B's last answer before the change and its first with it.
			bStatusBefore: worst.bStatusBefore,
			bStatusAfter: worst.bStatusAfter,
			bServerTimingAfter: worst.bServerTimingAfter,
			polls: worst.polls,
			// B's first warm read: a KV hit shows that B's lagging KV held the old version.
			bFirstWarmRead: bFirstWarmRead[path],
			// Old versions B found in each tier and rejected by its clock while converging, all rounds.
			bRejected: Object.fromEntries(tiers.map((t, i) => [t, samples.reduce((n, r) => n + r.rejected[i], 0)])),
			// A raw SQL change reaches A through its clock too (within a second), not at once.
			aFreshAtOnce: samples.every((r) => r.aFreshAtOnce),
		};
		log(
			`two locations, ${path}: B served the new name after ${paths[path].samplesMs.join(", ")} ms ` +
				`(worst: Cache-Status ${worst.bStatusAfter})`,
		);
	}
	const bClock = (await cacheStats(b.base)).clock;
	const kvHit = await (async () => {
		// A third location (also lagging) with an empty Cache API: its first read of a
		// product warmed long ago elsewhere is a KV hit.
		const c = await location(kvLagS);
		const t0 = performance.now();
		const r = await read(c.base, kvProbeId);
		const ms = performance.now() - t0;
		await c.mf.dispose();
		return { status: r.status, ms: round(ms), clockWaitMs: clockWaitMs(r.timing) ?? 0 };
	})();
	await a.mf.dispose();
	await b.mf.dispose();
	const all = Object.values(paths);
	const converged = all.every((p) => p.converged);
	results.twoLocations = {
		kvLagS,
		convergenceMs: converged ? Math.max(...all.map((p) => p.convergenceMs)) : -1,
		converged,
		timeoutMs,
		paths,
		bClock,
	};
	results.tierLatency.kvFirstReadAtNewLocation = kvHit;
}

// ---- re-warm: the first read of hot keys after a write ---------------------

if (variants.includes("tiercache")) {
	const hotKeys = 20;
	results.rewarm = { hotKeys };
	for (const mode of ["on", "off"]) {
		const mf = miniflare(copyState(`rewarm-${mode}`), "tiercache", {
			bindings: {
				BENCH_VARIANT: "tiercache",
				BENCH_REWARM: mode,
				LOG_REQUESTS: "off",
				ENVIRONMENT: "development",
				ORIGIN_DELAY_MS: String(config.originDelayMs),
				ADMIN_TOKEN,
				PURGE_WEBHOOK_SECRET: WEBHOOK_SECRET,
			},
			queueConsumers: { "tiercache-purge": { maxBatchSize: 100, maxBatchTimeout: 1 } },
		});
		const base = (await mf.ready).origin;
		const ids = Array.from({ length: hotKeys }, (_, i) => i + 1);
		for (let round = 0; round < 3; round++)
			for (const id of ids) await (await fetch(`${base}/v1/products/${id}`)).text();
		const before = (await benchStats(base)).queue.batches;
		const written = new Map();
		for (const id of ids) {
			const res = await fetch(`${base}/v1/products/${id}`, {
				method: "PATCH",
				headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
				body: JSON.stringify({ stock: 900 + id }),
			});
			written.set(id, (await res.json()).data.stock);
		}
		// Wait for the purge queue to drain: batches seen, none running, then none for 1 s.
		const deadline = performance.now() + 20_000;
		let seen = before;
		let quietSince = performance.now();
		while (performance.now() < deadline) {
			await new Promise((r) => setTimeout(r, 100));
			const { batches, running } = (await benchStats(base)).queue;
			if (batches !== seen || running > 0) {
				seen = batches;
				quietSince = performance.now();
			} else if (batches > before && performance.now() - quietSince > 1_000) break;
		}
		let hits = 0;
		let fresh = 0;
		for (const id of ids) {
			const res = await fetch(`${base}/v1/products/${id}`);
			const body = await res.json();
			if (servedBy(res.headers) !== "origin") hits++;
			if (body.data.stock === written.get(id)) fresh++;
		}
		const stats = await benchStats(base);
		await mf.dispose();
		results.rewarm[mode === "on" ? "withRewarm" : "withoutRewarm"] = {
			firstReadHits: hits,
			fresh,
			rewarmed: stats.queue.rewarmed,
		};
	}
	log(
		`re-warm: first reads of ${hotKeys} hot keys after a write: ${results.rewarm.withRewarm.firstReadHits} hits with re-warm, ` +
			`${results.rewarm.withoutRewarm.firstReadHits} without`,
	);
}

results.durationS = round((performance.now() - started) / 1000, 1);
results.machine = {
	cpus: os.cpus().length,
	cpuModel: os.cpus()[0]?.model,
	memoryGiB: round(os.totalmem() / 2 ** 30, 1),
	node: process.version,
};

// ---- report ---------------------------------------------------------------

console.log(renderTable(results));
mkdirSync(join(root, "bench/results"), { recursive: true });
const svg = renderSvg(results);
writeFileSync(join(root, "bench/results/latest.svg"), svg);
writeFileSync(join(root, "bench/results/latest.json"), `${JSON.stringify(results, null, 2)}\n`);
if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
log(`wrote bench/results/latest.svg and latest.json${args.json ? ` and ${args.json}` : ""} in ${results.durationS} s`);

function hitLatency(byTier, p) {
	const hits = [...byTier].filter(([tier]) => tier !== "origin");
	if (hits.length === 0) return null;
	const [, biggest] = hits.sort((a, b) => b[1].count - a[1].count)[0];
	return round(biggest.percentileMs(p));
}

function round(n, digits = 2) {
	const f = 10 ** digits;
	return Math.round(n * f) / f;
}
