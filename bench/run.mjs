#!/usr/bin/env node
// npm run bench -- [--quick] [--duration S] [--connections N] [--origin-delay MS] [--write-ratio R]
//                  [--warmup-requests N] [--steady-requests N] [--open-rates R1,R2] [--head-check-ms MS]
//                  [--variants a,b] [--json FILE]
// Runs one seeded workload against seven variants of the Worker on the local
// runtime (Miniflare), each as two isolates of one location on its own copy of
// the same seeded D1: a cold phase, the steady state (closed loop), open loop
// at two fixed rates, and the hit path, with the Worker process's CPU time per
// request for each; then a stampede, a two-location convergence test and a
// re-warm test. Writes a table, JSON and an SVG chart.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import { seedCatalog } from "../scripts/lib/seed-local.mjs";
import { signWebhook } from "../scripts/lib/webhook-sign.mjs";
import { cpuOf, procAvailable, workerdChildren } from "./lib/cpu.mjs";
import { createLatencyHistogram } from "./lib/histogram.mjs";
import { createClient } from "./lib/http-client.mjs";
import { requestCount, runOpenLoop } from "./lib/open-loop.mjs";
import { renderSvg, renderTable } from "./lib/report.mjs";
import { clockWaitMs } from "./lib/server-timing.mjs";
import { productsIn, StaleDetector } from "./lib/stale.mjs";
import { createWorkload } from "./lib/workload.mjs";
import { createRandom } from "./lib/zipf.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const VARIANTS = ["constant", "app-floor", "d1-direct", "hono-cache", "kv-only", "kv-in-app", "tiercache"];
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
		"warmup-requests": { type: "string" },
		"steady-requests": { type: "string" },
		"open-rates": { type: "string", default: "500,1000" },
		"head-check-ms": { type: "string" },
		json: { type: "string" },
		help: { type: "boolean", short: "h", default: false },
	},
});
if (args.help) {
	// The header comment: the lines after the shebang up to the first that is not a comment.
	const lines = readFileSync(fileURLToPath(import.meta.url), "utf8")
		.split("\n")
		.slice(1);
	const end = lines.findIndex((line) => !line.startsWith("//"));
	console.log(lines.slice(0, end).join("\n").replaceAll("// ", ""));
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
	// The measured steady state, closed loop: the same `steadyRequests` of the sequence for every variant
	// (so every variant's figures cover the same requests), stopped after `durationS` at most.
	steadyRequests: number("steady-requests", args["steady-requests"] ?? (args.quick ? 5_000 : 20_000), 100, 10_000_000),
	durationS: number("duration", args.duration ?? (args.quick ? 8 : 40), 1, 600),
	// The cold phase: the first `warmupRequests` of the sequence, the same with
	// and without --quick, stopped after `warmupS` at most.
	warmupRequests: number("warmup-requests", args["warmup-requests"] ?? 12_000, 0, 10_000_000),
	warmupS: 60,
	warmupConnections: 64,
	// Variants without a cache play only the cold phase's writes and its last reads.
	statelessWarmupReads: 2_000,
	connections: number("connections", args.connections ?? (args.quick ? 16 : 32), 1, 256),
	zipfS: 1.1,
	writeRatio: number("write-ratio", args["write-ratio"], 0, 0.5),
	products: number("products", args.products, 100, 100_000),
	quick: args.quick,
	mix: { product: 0.7, listing: 0.15, reviews: 0.15 },
	hitPathS: args.quick ? 1.5 : 5,
	// The hit path's CPU per request is measured at this fixed rate, the same for every variant.
	hitPathRateRps: 2_000,
	// The CPU per request at that rate: long enough that one run's ratio is steady (at 1.5 s it moved 1.1–2.0×).
	hitPathRateS: args.quick ? 4 : 10,
	// Open loop: fixed arrival rates (req/s), the same for every variant.
	openLoopS: args.quick ? 3 : 10,
	openLoopRates: args["open-rates"].split(",").map((r) => number("open-rates", r, 1, 100_000)),
	openLoopGraceMs: args.quick ? 2_000 : 5_000,
	// tiercache's clock.headCheckMs (how long its writes wait for their location); null: the engine's default.
	headCheckMs: args["head-check-ms"] === undefined ? null : number("head-check-ms", args["head-check-ms"], 0, 10_000),
	// Between phases: wait for the runtime to be quiet (see settle()).
	settleWindowMs: 250,
	settleCpuShare: 0.1,
	settleMaxMs: 10_000,
	// How far another isolate of the location may lag behind a write (design.md: about a second).
	staleBoundMs: 1_000,
};
const variants = args.variants.split(",").map((v) => v.trim());
for (const v of variants) {
	if (!VARIANTS.includes(v)) {
		console.error(`bench: unknown variant '${v}' (one of ${VARIANTS.join(", ")})`);
		process.exit(2);
	}
}

const log = (line) => console.error(`bench: ${line}`);
/** A request without an answer for this long fails (a runtime that stopped answering must not hold the run). */
const REQUEST_TIMEOUT_MS = 30_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = performance.now();
const loadAtStart = os.loadavg().map((n) => Math.round(n * 100) / 100);
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

/** The single-worker instances of the tests after the variants, not yet disposed of (a failed test's are). */
const liveInstances = new Set();

function miniflare(state, variant, { bindings = {}, ...extra } = {}) {
	const mf = new Miniflare({
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
			...headCheckBinding(),
			...bindings,
		},
		...extra,
	});
	liveInstances.add(mf);
	const dispose = mf.dispose.bind(mf);
	mf.dispose = () => {
		liveInstances.delete(mf);
		return dispose();
	};
	return mf;
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
//
// One seeded sequence of operations (bench/lib/workload.mjs), the same for
// every variant: the first `warmupRequests` are the cold phase (played at
// `warmupConnections`), the next ones the measured steady state (closed loop,
// `connections`, `durationS`). Each variant runs as two workers of one
// Miniflare instance, "a" and "b": two isolates of one location sharing D1,
// KV and the Cache API. Writes go to "a", reads to either (drawn with the
// sequence). Requests go straight to each worker's own socket.

const ISOLATES = ["a", "b"];
/** Variants whose answers depend on no state but D1's (which only the writes change). */
const STATELESS = new Set(["constant", "app-floor", "d1-direct"]);
const workload = createWorkload({
	seed: "bench-workload",
	products: config.products,
	zipfS: config.zipfS,
	writeRatio: config.writeRatio,
	mix: config.mix,
	isolates: ISOLATES,
});
const openWorkload = createWorkload({
	seed: "bench-open-loop",
	products: config.products,
	zipfS: config.zipfS,
	writeRatio: config.writeRatio,
	mix: config.mix,
	isolates: ISOLATES,
});
const ADMIN_HEADERS = { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" };

/** `--head-check-ms` for tiercache's clock (bench/worker.ts), when given. */
function headCheckBinding() {
	return config.headCheckMs === null ? {} : { BENCH_HEAD_CHECK_MS: String(config.headCheckMs) };
}

function variantMiniflare(state, variant) {
	const worker = (name) => ({
		name,
		modules: true,
		scriptPath: join(root, "bench/.build/worker.js"),
		compatibilityDate: "2026-04-20",
		compatibilityFlags: ["nodejs_compat"],
		d1Databases: { DB: DB_ID },
		kvNamespaces: { CACHE_KV: "bench-kv" },
		queueProducers: { PURGE_QUEUE: "tiercache-purge" },
		ratelimits: { WEBHOOK_RATE_LIMITER: { simple: { limit: 10_000, period: 60 } } },
		bindings: {
			BENCH_VARIANT: variant,
			BENCH_ISOLATE: name,
			LOG_REQUESTS: "off",
			ENVIRONMENT: "development",
			ORIGIN_DELAY_MS: String(config.originDelayMs),
			ADMIN_TOKEN,
			PURGE_WEBHOOK_SECRET: WEBHOOK_SECRET,
			...headCheckBinding(),
		},
		unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
	});
	return new Miniflare({
		workers: ISOLATES.map(worker),
		d1Persist: join(state, "v3", "d1"),
		kvPersist: join(state, "v3", "kv"),
		cachePersist: false,
	});
}

/** Which tier answered: tiercache's Cache-Status, or the baselines' marker. */
function servedByNode(headers) {
	const hit = /tiercache-(memory|colo|kv); hit/.exec(headers["cache-status"] ?? "");
	return hit ? hit[1] : (headers["x-bench-served"] ?? "origin");
}

/**
 * Performs one operation of the sequence; true when it was answered as
 * expected. Writes are acknowledged to the stale detector when their answer
 * arrives; reads are judged against every write acknowledged before they
 * started.
 */
async function perform(ctx, op, signal) {
	const client = ctx.clients[op.isolate];
	const startedAt = performance.now();
	if (op.kind === "write") {
		const res = await client.request(`/v1/products/${op.id}`, {
			method: "PATCH",
			headers: ADMIN_HEADERS,
			body: JSON.stringify({ stock: op.stock }),
			signal,
		});
		const doneAt = performance.now();
		ctx.phase.writes++;
		if (res.status !== 200) {
			ctx.phase.errors++;
			ctx.noteError(`PATCH ${op.id} -> ${res.status}: ${res.text.slice(0, 200)}`);
			return false;
		}
		ctx.stale.acknowledge(op.id, JSON.parse(res.text).data.updatedAt, doneAt, op.isolate);
		return true;
	}
	const res = await client.request(op.path, { signal });
	const ms = performance.now() - startedAt;
	const phase = ctx.phase;
	phase.requests++;
	phase.histogram?.recordMs(ms);
	if (res.status !== 200) {
		phase.errors++;
		ctx.noteError(`GET ${op.path} -> ${res.status}: ${res.text.slice(0, 200)}`);
		return false;
	}
	const timing = res.headers["server-timing"];
	if (timing !== undefined) {
		phase.timed++;
		const wait = clockWaitMs(timing);
		if (wait !== undefined) phase.clockWaits.recordMs(wait);
	}
	const tier = servedByNode(res.headers);
	if (!phase.byTier.has(tier)) phase.byTier.set(tier, createLatencyHistogram());
	phase.byTier.get(tier).recordMs(ms);
	if (ctx.checkStale && op.kind !== "reviews") {
		const verdict = ctx.stale.check(productsIn(JSON.parse(res.text)), startedAt, op.isolate);
		if (verdict?.beyondBound && phase.staleSamples.length < 5)
			phase.staleSamples.push({ path: op.path, isolate: op.isolate, lagMs: round(verdict.lagMs) });
	}
	return true;
}

function newPhase() {
	return {
		histogram: createLatencyHistogram(),
		byTier: new Map(),
		clockWaits: createLatencyHistogram(),
		staleSamples: [],
		timed: 0,
		requests: 0,
		writes: 0,
		errors: 0,
	};
}

async function benchStats(ctx) {
	const all = await Promise.all(
		ISOLATES.map(async (isolate) => JSON.parse((await ctx.clients[isolate].request("/__bench/stats")).text)),
	);
	const sum = (f) => all.reduce((n, s) => n + (f(s) ?? 0), 0);
	const causes = ["cold", "expired", "invalidated", "evicted", "refresh"];
	return {
		reads: sum((s) => s.reads),
		originLoads: sum((s) => s.originLoads),
		kvWrites: sum((s) => s.kvWrites),
		hits: Object.fromEntries(["memory", "colo", "kv"].map((t) => [t, sum((s) => s.hits[t])])),
		byCause: all[0].byCause ? Object.fromEntries(causes.map((c) => [c, sum((s) => s.byCause[c])])) : undefined,
		evictions: all[0].evictions !== undefined ? sum((s) => s.evictions) : undefined,
		byRoute: all[0].byRoute
			? Object.fromEntries(
					[...new Set(all.flatMap((s) => Object.keys(s.byRoute ?? {})))].map((r) => [r, sum((s) => s.byRoute?.[r])]),
				)
			: undefined,
		clockWaits: all[0].clock ? sum((s) => s.clock.waits) : undefined,
		storageOps: Object.fromEntries(STORAGE_OPS.map((op) => [op, sum((s) => s.storageOps?.[op])])),
		clockD1Reads: all[0].clock ? sum((s) => s.clock.d1Reads) : undefined,
		announceFailures: all[0].clock ? sum((s) => s.clock.announceFailures) : undefined,
		headLookFailures: all[0].clock ? sum((s) => s.clock.headLookFailures) : undefined,
		stored: all[0].stored
			? { answers: sum((s) => s.stored.answers), skipped: sum((s) => s.stored.skipped) }
			: undefined,
	};
}

const STORAGE_OPS = ["kvReads", "kvWrites", "cacheReads", "cacheWrites"];

/**
 * Runs a phase (closed loop): operations of the sequence from `from`, taken in
 * order by `connections` loops, until `to` or `seconds`. `skip(op, i)` leaves an
 * operation out. Measures the workerd process's CPU over the phase.
 */
async function closedLoop(ctx, { from, to = Number.POSITIVE_INFINITY, seconds, connections, skip }) {
	const phase = newPhase();
	ctx.phase = phase;
	const statsBefore = await benchStats(ctx);
	const staleBefore = ctx.stale.counts();
	const cpuBefore = cpuOf(ctx.pids);
	let next = from;
	const t0 = performance.now();
	const until = seconds === undefined ? Number.POSITIVE_INFINITY : t0 + seconds * 1000;
	async function loop() {
		while (next < to && performance.now() < until) {
			const i = next++;
			const op = workload.at(i);
			if (skip?.(op, i)) continue;
			try {
				await perform(ctx, op);
			} catch (err) {
				phase.errors++;
				ctx.noteError(`request failed: ${err.cause?.message ?? err.message}`);
			}
		}
	}
	await Promise.all(Array.from({ length: connections }, loop));
	const elapsed = (performance.now() - t0) / 1000;
	const cpuAfter = cpuOf(ctx.pids);
	const statsAfter = await benchStats(ctx);
	return summarize(ctx, phase, {
		elapsed,
		cpuUs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
		statsBefore,
		statsAfter,
		stale: ctx.stale.counts(staleBefore),
		sequence: { from, to: next },
	});
}

function summarize(ctx, phase, { elapsed, cpuUs, statsBefore, statsAfter, stale, sequence }) {
	const reads = Math.max(1, statsAfter.reads - statsBefore.reads);
	const originLoads = statsAfter.originLoads - statsBefore.originLoads;
	const hit = (tier) => round((statsAfter.hits[tier] - statsBefore.hits[tier]) / reads, 3);
	const answered = phase.requests + phase.writes;
	const out = {
		requests: phase.requests,
		writes: phase.writes,
		seconds: round(elapsed, 2),
		throughputRps: Math.round(phase.requests / elapsed),
		p50Ms: round(phase.histogram.percentileMs(50)),
		p95Ms: round(phase.histogram.percentileMs(95)),
		p99Ms: round(phase.histogram.percentileMs(99)),
		p999Ms: round(phase.histogram.percentileMs(99.9)),
		originLoadsPer1k:
			ctx.variant === "constant" || ctx.variant === "app-floor" ? 0 : round((originLoads / reads) * 1000, 1),
		originLoads,
		// KV writes (billed per write on Workers KV, and limited to one a second per key).
		kvWritesPer1k: round(((statsAfter.kvWrites - statsBefore.kvWrites) / reads) * 1000, 1),
		// Every KV and Cache API operation of the phase (reads, write-backs, the invalidation clock's), per 1,000 reads:
		// counts that do not move with the machine's load.
		storageOpsPer1k: Object.fromEntries(
			STORAGE_OPS.map((op) => [
				op,
				round(((statsAfter.storageOps[op] - statsBefore.storageOps[op]) / reads) * 1000, 1),
			]),
		),
		// Answers stored without a load of their own (written through, or related to a load), and those left
		// because memory already held them unchanged.
		...(statsAfter.stored !== undefined
			? {
					storedPer1k: {
						answers: round(((statsAfter.stored.answers - statsBefore.stored.answers) / reads) * 1000, 1),
						skipped: round(((statsAfter.stored.skipped - statsBefore.stored.skipped) / reads) * 1000, 1),
					},
				}
			: {}),
		...(statsAfter.clockD1Reads !== undefined
			? { clockD1ReadsPer1k: round(((statsAfter.clockD1Reads - statsBefore.clockD1Reads) / reads) * 1000, 1) }
			: {}),
		// Writes that answered without their location told (a failed or late announcement), and looks at the
		// announcement that failed or came too late: strict stale reads can follow either, within the refresh age.
		...(statsAfter.announceFailures !== undefined
			? {
					announceFailures: statsAfter.announceFailures - statsBefore.announceFailures,
					headLookFailures: statsAfter.headLookFailures - statsBefore.headLookFailures,
				}
			: {}),
		staleReads: stale.staleReads,
		staleBeyondBound: stale.staleBeyondBound,
		staleByIsolate: stale.byIsolate,
		checkedReads: stale.checkedReads,
		errors: phase.errors,
		hitRatio: { memory: hit("memory"), colo: hit("colo"), kv: hit("kv") },
		// The Worker process's CPU (user + system) over the phase per request answered (reads and writes).
		cpuUsPerRequest: cpuUs === null ? null : Math.round(cpuUs / Math.max(1, answered)),
		sequence,
	};
	if (statsAfter.byCause) {
		out.originLoadsByCause = Object.fromEntries(
			Object.keys(statsAfter.byCause).map((c) => [c, statsAfter.byCause[c] - statsBefore.byCause[c]]),
		);
	}
	if (statsAfter.byRoute) {
		out.originLoadsByRoute = Object.fromEntries(
			Object.keys(statsAfter.byRoute).map((r) => [r, statsAfter.byRoute[r] - (statsBefore.byRoute?.[r] ?? 0)]),
		);
	}
	if (statsAfter.evictions !== undefined) out.memoryEvictions = statsAfter.evictions - statsBefore.evictions;
	if (phase.staleSamples.length) out.staleBeyondBoundSamples = phase.staleSamples;
	if (phase.timed > 0) {
		const n = phase.clockWaits.count;
		out.clockWaits = {
			share: round(n / Math.max(1, phase.requests), 4),
			count: n,
			p50Ms: n ? round(phase.clockWaits.percentileMs(50)) : 0,
			p99Ms: n ? round(phase.clockWaits.percentileMs(99)) : 0,
			maxMs: n ? round(phase.clockWaits.percentileMs(100)) : 0,
			// The engine's own count over the phase (clock.waits), as a cross-check of the headers.
			engineWaits: statsAfter.clockWaits !== undefined ? statsAfter.clockWaits - statsBefore.clockWaits : null,
		};
	}
	out.hitP50Ms = hitLatency(phase.byTier, 50);
	out.hitP99Ms = hitLatency(phase.byTier, 99);
	out.byTier = Object.fromEntries(
		[...phase.byTier].map(([tier, h]) => [
			tier,
			{ count: h.count, p50Ms: round(h.percentileMs(50)), p99Ms: round(h.percentileMs(99)) },
		]),
	);
	return out;
}

/**
 * Waits until the variant's runtime is quiet: what a phase left running
 * (write-backs in `waitUntil`, queue batches and their re-warm) is not
 * charged to the next phase. Quiet: under `settleCpuShare` of one core over a
 * `settleWindowMs` window, at most `settleMaxMs`. Returns how long it took and
 * the CPU it saw meanwhile (reported, never hidden).
 */
async function settle(ctx) {
	const started = performance.now();
	const cpuStart = cpuOf(ctx.pids);
	if (cpuStart === null) {
		await sleep(config.settleWindowMs);
		return { ms: round(performance.now() - started), cpuMs: null, quiet: null };
	}
	let last = cpuStart;
	let quiet = false;
	while (performance.now() - started < config.settleMaxMs) {
		await sleep(config.settleWindowMs);
		const now = cpuOf(ctx.pids);
		if (now === null) break;
		const share = (now - last) / 1000 / config.settleWindowMs;
		last = now;
		if (share < config.settleCpuShare) {
			quiet = true;
			break;
		}
	}
	return { ms: round(performance.now() - started), cpuMs: round((last - cpuStart) / 1000), quiet };
}

/**
 * Hits only: 50 hot products on both isolates, read again and again after a
 * first read, no writes. Closed loop for the throughput; then a fixed rate,
 * the same for every variant, for the CPU per request (the runtime's own
 * overhead per request depends on how busy it is, so CPU figures compare at
 * equal load).
 */
async function hitPath(ctx, seconds = config.hitPathS) {
	const paths = Array.from({ length: 50 }, (_, i) => `/v1/products/${i + 1}`);
	const get = async (i) => {
		const res = await ctx.clients[ISOLATES[i % ISOLATES.length]].request(
			paths[Math.floor(i / ISOLATES.length) % paths.length],
		);
		return res.status === 200;
	};
	for (let i = 0; i < paths.length * ISOLATES.length; i++) await get(i);
	ctx.settles.hitPath = await settle(ctx); // the first reads' write-backs, and what earlier phases left running
	const histogram = createLatencyHistogram();
	let n = 0;
	let errors = 0;
	const cpuBefore = cpuOf(ctx.pids);
	const t0 = performance.now();
	const until = t0 + seconds * 1000;
	await Promise.all(
		Array.from({ length: config.connections }, async () => {
			while (performance.now() < until) {
				const started = performance.now();
				// A failed request (e.g. no answer in time) is an error, as in the other phases.
				if (!(await get(n++).catch(() => false))) errors++;
				histogram.recordMs(performance.now() - started);
			}
		}),
	);
	const elapsed = (performance.now() - t0) / 1000;
	const cpuAfter = cpuOf(ctx.pids);
	const fixed = createLatencyHistogram();
	const cpuFixedBefore = cpuOf(ctx.pids);
	const atRate = await runOpenLoop({
		rateRps: config.hitPathRateRps,
		seconds: config.hitPathRateS,
		graceMs: config.openLoopGraceMs,
		record: (ms) => fixed.recordMs(ms),
		send: (i) => get(i),
	});
	const cpuFixedAfter = cpuOf(ctx.pids);
	const perRequest = (a, b, count) => (a === null || b === null ? null : Math.round((b - a) / Math.max(1, count)));
	return {
		rps: Math.round(n / elapsed),
		p50Ms: round(histogram.percentileMs(50)),
		p99Ms: round(histogram.percentileMs(99)),
		cpuUsPerRequestAtMax: perRequest(cpuBefore, cpuAfter, n),
		cpuUsPerRequest: perRequest(cpuFixedBefore, cpuFixedAfter, atRate.completed),
		atRate: {
			rateRps: config.hitPathRateRps,
			p50Ms: round(fixed.percentileMs(50)),
			p99Ms: round(fixed.percentileMs(99)),
			timedOut: atRate.timedOut,
		},
		errors: errors + atRate.errors,
	};
}

/** Runs `measure` with app-floor answering with the contract's headers on every isolate (bench/worker.ts). */
async function withFloorHeaders(ctx, measure) {
	const toggle = async (on) => {
		for (const client of Object.values(ctx.clients)) {
			const res = await client.request(`/__bench/floor-headers?on=${on ? 1 : 0}`, { method: "POST" });
			if (res.status !== 200) throw new Error(`/__bench/floor-headers answered ${res.status}`);
		}
	};
	await toggle(true);
	const measured = await measure();
	await toggle(false);
	return measured;
}

/** Open loop at a fixed rate over the open-loop sequence from `from`. */
async function openLoop(ctx, { rateRps, seconds, from }) {
	const phase = newPhase();
	ctx.phase = phase;
	const latency = createLatencyHistogram();
	// Reads and writes apart too: tiercache's writes wait for their location (headCheckMs).
	const readLatency = createLatencyHistogram();
	const writeLatency = createLatencyHistogram();
	const staleBefore = ctx.stale.counts();
	const statsBefore = await benchStats(ctx);
	const cpuBefore = cpuOf(ctx.pids);
	const result = await runOpenLoop({
		rateRps,
		seconds,
		graceMs: config.openLoopGraceMs,
		record: (ms, i) => {
			latency.recordMs(ms);
			(openWorkload.at(from + i).kind === "write" ? writeLatency : readLatency).recordMs(ms);
		},
		send: (i, signal) => perform(ctx, openWorkload.at(from + i), signal),
	});
	const cpuAfter = cpuOf(ctx.pids);
	const statsAfter = await benchStats(ctx);
	const stale = ctx.stale.counts(staleBefore);
	const reads = Math.max(1, statsAfter.reads - statsBefore.reads);
	return {
		p50Ms: round(latency.percentileMs(50)),
		p99Ms: round(latency.percentileMs(99)),
		p999Ms: round(latency.percentileMs(99.9)),
		maxMs: round(latency.percentileMs(100)),
		readP99Ms: round(readLatency.percentileMs(99)),
		readP999Ms: round(readLatency.percentileMs(99.9)),
		writeP50Ms: round(writeLatency.percentileMs(50)),
		writeP99Ms: round(writeLatency.percentileMs(99)),
		sent: result.sent,
		completed: result.completed,
		timedOut: result.timedOut,
		errors: result.errors,
		achievedRps: Math.round(result.completed / result.elapsedS),
		// How late the generator itself sent (its own lag, not the server's).
		maxSendLagMs: round(result.maxSendLagMs),
		originLoadsPer1k:
			STATELESS.has(ctx.variant) && ctx.variant !== "d1-direct"
				? 0
				: round(((statsAfter.originLoads - statsBefore.originLoads) / reads) * 1000, 1),
		staleReads: stale.staleReads,
		staleBeyondBound: stale.staleBeyondBound,
		cpuUsPerRequest:
			cpuBefore === null || cpuAfter === null
				? null
				: Math.round((cpuAfter - cpuBefore) / Math.max(1, result.completed)),
		sequence: { from, to: from + result.sent },
	};
}

const results = {
	config: { ...config, variants, isolates: ISOLATES },
	variants: {},
	tierLatency: {},
	cold: {},
	failedVariants: {},
	failedSections: {},
};
const openLoopRuns = config.openLoopRates.map((rateRps) => ({ rateRps, variants: {} }));

/** The variant being measured: disposed of if it fails. */
const running = { mf: null, clients: {} };

/**
 * Starts a variant (two isolates on its own copy of the seeded D1) and
 * returns what its phases need: clients, its workerd process, a stale
 * detector. `close` disposes of it.
 */
async function startVariant(variant, stateName = variant) {
	const workerdBefore = new Set(workerdChildren());
	const mf = variantMiniflare(copyState(stateName), variant);
	running.mf = mf;
	await mf.ready;
	const clients = {};
	running.clients = clients;
	for (const isolate of ISOLATES) {
		clients[isolate] = createClient((await mf.unsafeGetDirectURL(isolate)).href, {
			sockets: 256,
			timeoutMs: REQUEST_TIMEOUT_MS,
		});
	}
	const pids = workerdChildren().filter((pid) => !workerdBefore.has(pid));
	if (pids.length === 0 && procAvailable) log(`${variant}: no workerd process found; CPU figures will be missing`);
	let shownErrors = 0;
	const ctx = {
		variant,
		clients,
		pids,
		settles: {},
		stale: new StaleDetector({ boundMs: config.staleBoundMs }),
		// The constant bodies stand for no product's real version: no stale check.
		checkStale: variant !== "constant" && variant !== "app-floor",
		noteError: (line) => {
			if (shownErrors++ < 3) log(`${variant}: ${line}`);
		},
	};
	const close = async () => {
		for (const client of Object.values(clients)) client.close();
		await mf.dispose();
		if (running.mf === mf) running.mf = null;
	};
	return { mf, ctx, close };
}

/** The cold phase: requests 0–`warmupRequests` (for a variant without a cache, only its writes and last reads). */
function coldPhase(ctx) {
	const coldStart = STATELESS.has(ctx.variant) ? Math.max(0, config.warmupRequests - config.statelessWarmupReads) : 0;
	return closedLoop(ctx, {
		from: 0,
		to: config.warmupRequests,
		seconds: config.warmupS,
		connections: config.warmupConnections,
		skip: (op, i) => op.kind !== "write" && i < coldStart,
	});
}

async function runVariant(variant) {
	const { ctx, close } = await startVariant(variant);
	const clients = ctx.clients;
	log(
		`${variant}: cold phase (requests 0–${config.warmupRequests} of the sequence at ${config.warmupConnections} connections` +
			`${STATELESS.has(variant) ? `, only its writes and last ${config.statelessWarmupReads} reads` : ""})`,
	);
	const cold = await coldPhase(ctx);
	if (cold.sequence.to < config.warmupRequests) {
		log(`${variant}: the cold phase stopped after ${config.warmupS} s at request ${cold.sequence.to} (not warm)`);
	}
	ctx.settles.steady = await settle(ctx);
	log(
		`${variant}: steady state, requests ${config.warmupRequests}–${config.warmupRequests + config.steadyRequests} ` +
			`at ${config.connections} connections (at most ${config.durationS} s)`,
	);
	const steady = await closedLoop(ctx, {
		from: config.warmupRequests,
		to: config.warmupRequests + config.steadyRequests,
		seconds: config.durationS,
		connections: config.connections,
	});
	// A variant too slow to play the whole window in time (d1-direct) is measured on the part it played.
	steady.complete = steady.sequence.to >= config.warmupRequests + config.steadyRequests;
	for (const [index, run] of openLoopRuns.entries()) {
		// Each rate plays its own stretch of the open-loop sequence, the same for every variant.
		const from = openLoopRuns.slice(0, index).reduce((n, r) => n + requestCount(r.rateRps, config.openLoopS), 0);
		ctx.settles[`openLoop${run.rateRps}`] = await settle(ctx);
		log(`${variant}: open loop at ${run.rateRps} req/s for ${config.openLoopS} s`);
		run.variants[variant] = await openLoop(ctx, { rateRps: run.rateRps, seconds: config.openLoopS, from });
	}
	// d1-direct has no hit path: every read is an origin load.
	const hits = variant === "d1-direct" ? null : await hitPath(ctx);
	// app-floor again, answering with the contract's headers: what they cost apart from the engine.
	const floorWithHeaders = variant === "app-floor" ? await withFloorHeaders(ctx, () => hitPath(ctx)) : null;
	const connectionRetries = Object.values(clients).reduce((n, client) => n + client.retries, 0);
	await close();

	results.cold[variant] = {
		requests: cold.requests,
		writes: cold.writes,
		seconds: cold.seconds,
		throughputRps: cold.throughputRps,
		p50Ms: cold.p50Ms,
		p99Ms: cold.p99Ms,
		originLoadsPer1k: cold.originLoadsPer1k,
		staleReads: cold.staleReads,
		staleBeyondBound: cold.staleBeyondBound,
		errors: cold.errors,
		cpuUsPerRequest: cold.cpuUsPerRequest,
		originLoadsByCause: cold.originLoadsByCause,
		sequence: cold.sequence,
		readsPlayed: STATELESS.has(variant) ? "writes and the last reads only" : "all",
	};
	const { byTier, ...measured } = steady;
	results.variants[variant] = {
		...measured,
		hitPathRps: hits?.rps ?? null,
		hitPathP50Ms: hits?.p50Ms ?? null,
		hitPathP99Ms: hits?.p99Ms ?? null,
		// CPU per request on the hit path at a fixed rate (config.hitPathRateRps), and at the closed loop's maximum.
		hitPathCpuUsPerRequest: hits?.cpuUsPerRequest ?? null,
		hitPathCpuUsPerRequestAtMax: hits?.cpuUsPerRequestAtMax ?? null,
		...(floorWithHeaders
			? {
					hitPathWithContractHeaders: {
						cpuUsPerRequest: floorWithHeaders.cpuUsPerRequest,
						cpuUsPerRequestAtMax: floorWithHeaders.cpuUsPerRequestAtMax,
						rps: floorWithHeaders.rps,
						errors: floorWithHeaders.errors,
					},
				}
			: {}),
		hitPathAtRate: hits?.atRate ?? null,
		hitPathErrors: hits?.errors ?? null,
		staleMaxLagMs: Object.fromEntries(Object.entries(ctx.stale.maxLagMs).map(([k, v]) => [k, round(v)])),
		// Requests sent again because a kept-alive connection had been closed before they reached the Worker.
		connectionRetries,
		// Waits for a quiet runtime before each phase: how long, and the CPU seen meanwhile.
		settles: ctx.settles,
	};
	if (variant === "tiercache") {
		results.originLoadsByCause = steady.originLoadsByCause;
		for (const [tier, t] of Object.entries(byTier)) results.tierLatency[tier] = t;
	}
	log(
		`${variant}: ${steady.throughputRps} req/s, ${steady.originLoadsPer1k} loads/1k, ${steady.cpuUsPerRequest} µs CPU/request, ` +
			`${steady.staleReads} stale (${steady.staleBeyondBound} beyond the bound), ${steady.errors} errors; ` +
			`hit path ${hits?.rps ?? "-"} req/s at ${hits?.cpuUsPerRequest ?? "-"} µs CPU/request`,
	);
}

// A variant whose runtime fails (or stops answering: requests time out) is
// reported and left out; the others are still measured.
for (const variant of variants) {
	try {
		await runVariant(variant);
	} catch (err) {
		const message = err?.message ?? String(err);
		log(`${variant}: failed, its figures are left out: ${message}`);
		results.failedVariants[variant] = message;
		for (const run of openLoopRuns) delete run.variants[variant];
		for (const client of Object.values(running.clients)) client.close();
		await running.mf?.dispose().catch(() => {});
		running.mf = null;
	}
}

if (openLoopRuns.length > 0) {
	// Each rate as a share of the constant variant's steady throughput (the machine's ceiling for this workload).
	const constantRps = results.variants.constant?.throughputRps;
	for (const run of openLoopRuns) run.shareOfConstant = constantRps ? round(run.rateRps / constantRps, 3) : null;
	results.openLoop = {
		rateRps: openLoopRuns[0].rateRps,
		shareOfConstant: openLoopRuns[0].shareOfConstant,
		seconds: config.openLoopS,
		variants: openLoopRuns[0].variants,
		rates: openLoopRuns,
	};
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
	if (name === "constant" || name === "app-floor") v.hitRatio = { memory: 0, colo: 0, kv: 0 };
}

// ---- the hit path, paired ----------------------------------------------------
//
// The hit path's CPU per request, with tiercache and app-floor running side by
// side (each its own runtime, two isolates) and measured in turns: several
// rounds, each measuring tiercache (as the Worker runs it, behind the front
// door), tiercache in the app alone (front door off), app-floor and app-floor
// with the contract's headers at the same fixed rate, in an order that rotates. The
// per-variant figures above are minutes apart; whatever else the machine does
// moves them by 10–40 %, and here it moves every arm of a round alike. The
// ratios are of the medians; each round's own ratios are kept too.

await section("hit path, paired", async () => {
	if (!variants.includes("app-floor") || results.failedVariants["app-floor"]) return;
	const rounds = config.quick ? 3 : 5;
	const seconds = config.quick ? 3 : 5;
	const paths = Array.from({ length: 50 }, (_, i) => `/v1/products/${i + 1}`);
	const start = async (variant) => {
		const started = await startVariant(variant, `paired-${variant}`);
		liveInstances.add(started.mf);
		const { clients, pids } = started.ctx;
		const get = async (i) => {
			const res = await clients[ISOLATES[i % ISOLATES.length]].request(
				paths[Math.floor(i / ISOLATES.length) % paths.length],
			);
			return res.status === 200;
		};
		for (let k = 0; k < 3; k++) for (let i = 0; i < paths.length * ISOLATES.length; i++) await get(i);
		return { ...started, clients, pids, get };
	};
	const engine = await start("tiercache");
	const floor = await start("app-floor");
	const toggle = async (target, what, on) => {
		for (const client of Object.values(target.clients)) {
			const res = await client.request(`/__bench/${what}?on=${on ? 1 : 0}`, { method: "POST" });
			if (res.status !== 200) throw new Error(`/__bench/${what} answered ${res.status}`);
		}
	};
	const arms = {
		tiercache: { target: engine, switch: "front-door", on: true },
		"tiercache-in-app": { target: engine, switch: "front-door", on: false },
		"app-floor": { target: floor, switch: "floor-headers", on: false },
		"app-floor+headers": { target: floor, switch: "floor-headers", on: true },
	};
	const names = Object.keys(arms);
	const cpu = Object.fromEntries(names.map((n) => [n, []]));
	let errors = 0;
	for (let r = 0; r < rounds; r++) {
		for (let k = 0; k < names.length; k++) {
			const name = names[(r + k) % names.length];
			const { target, switch: what, on } = arms[name];
			await toggle(target, what, on);
			await settle({ pids: [...engine.pids, ...floor.pids] });
			const before = cpuOf(target.pids);
			const run = await runOpenLoop({
				rateRps: config.hitPathRateRps,
				seconds,
				graceMs: config.openLoopGraceMs,
				record: () => {},
				send: (i) => target.get(i),
			});
			const after = cpuOf(target.pids);
			errors += run.errors + run.timedOut;
			cpu[name].push(before === null || after === null ? null : Math.round((after - before) / run.completed));
		}
	}
	for (const t of [engine, floor]) {
		await t.close();
		liveInstances.delete(t.mf);
	}
	const median = (xs) => {
		const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
		return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
	};
	const medians = Object.fromEntries(names.map((n) => [n, median(cpu[n])]));
	results.hitPathPaired = {
		rateRps: config.hitPathRateRps,
		seconds,
		rounds,
		cpuUsPerRequest: cpu,
		medianCpuUsPerRequest: medians,
		vsAppFloor: ratioOf(medians.tiercache, medians["app-floor"]),
		vsAppFloorWithHeaders: ratioOf(medians.tiercache, medians["app-floor+headers"]),
		inAppVsAppFloor: ratioOf(medians["tiercache-in-app"], medians["app-floor"]),
		headersVsAppFloor: ratioOf(medians["app-floor+headers"], medians["app-floor"]),
		roundRatiosVsAppFloor: cpu.tiercache.map((t, i) => ratioOf(t, cpu["app-floor"][i])),
		errors,
	};
	log(
		`hit path, paired (${rounds} rounds at ${config.hitPathRateRps} req/s): tiercache ${medians.tiercache} µs ` +
			`(in the app alone ${medians["tiercache-in-app"]} µs), ` +
			`app-floor ${medians["app-floor"]} µs, with the contract's headers ${medians["app-floor+headers"]} µs: ` +
			`${results.hitPathPaired.vsAppFloor}× app-floor, ${results.hitPathPaired.vsAppFloorWithHeaders}× with headers`,
	);
});

// ---- the steady state, side by side ------------------------------------------
//
// The mixed workload's throughput against the TTL caches, with tiercache,
// kv-only and hono-cache running at once (each its own runtime, two isolates,
// its own cold phase) and playing the steady state in turns: the sequence
// after the cold phase cut into windows, each window played by every variant
// in an order that rotates, so each plays the same requests and whatever
// else the machine does falls on all of them alike. The per-variant steady
// state above runs minutes apart.

await section("steady state, side by side", async () => {
	const rivals = ["tiercache", "kv-only", "hono-cache"].filter(
		(v) => variants.includes(v) && !results.failedVariants[v],
	);
	if (rivals.length < 2) return;
	const rounds = config.quick ? 4 : 6;
	const window = config.quick ? 1_500 : 4_000;
	const started = [];
	for (const variant of rivals) {
		const one = await startVariant(variant, `paired-steady-${variant}`);
		liveInstances.add(one.mf);
		started.push(one);
		log(`steady state, side by side: ${variant}: cold phase`);
		await coldPhase(one.ctx);
	}
	const totals = Object.fromEntries(
		rivals.map((v) => [
			v,
			{ requests: 0, seconds: 0, cpuUs: 0, answered: 0, originLoads: 0, staleReads: 0, errors: 0, rps: [] },
		]),
	);
	let from = config.warmupRequests;
	for (let r = 0; r < rounds; r++) {
		for (let k = 0; k < started.length; k++) {
			const { ctx } = started[(r + k) % started.length];
			await settle({ pids: started.flatMap((s) => s.ctx.pids) });
			const played = await closedLoop(ctx, {
				from,
				to: from + window,
				seconds: config.durationS,
				connections: config.connections,
			});
			const t = totals[ctx.variant];
			t.requests += played.requests;
			t.seconds += played.seconds;
			t.answered += played.requests + played.writes;
			if (played.cpuUsPerRequest !== null) t.cpuUs += played.cpuUsPerRequest * (played.requests + played.writes);
			t.staleReads += played.staleReads;
			t.errors += played.errors;
			t.rps.push(played.throughputRps);
			t.originLoads += played.originLoads;
			log(
				`steady state, side by side, round ${r + 1} of ${rounds}: ${ctx.variant} ${played.throughputRps} req/s, ` +
					`${played.originLoadsPer1k} origin loads per 1,000`,
			);
		}
		from += window;
	}
	for (const one of started) {
		await one.close();
		liveInstances.delete(one.mf);
	}
	const figures = Object.fromEntries(
		rivals.map((v) => {
			const t = totals[v];
			return [
				v,
				{
					throughputRps: Math.round(t.requests / t.seconds),
					cpuUsPerRequest: procAvailable ? Math.round(t.cpuUs / Math.max(1, t.answered)) : null,
					originLoadsPer1k: round((t.originLoads / Math.max(1, t.requests)) * 1000, 1),
					staleReads: t.staleReads,
					errors: t.errors,
					roundsRps: t.rps,
				},
			];
		}),
	);
	const tc = figures.tiercache;
	results.steadyPaired = {
		rounds,
		windowRequests: window,
		connections: config.connections,
		sequence: { from: config.warmupRequests, to: from },
		variants: figures,
		...(tc
			? {
					vsKvOnly: ratioOf(tc.throughputRps, figures["kv-only"]?.throughputRps),
					vsHonoCache: ratioOf(tc.throughputRps, figures["hono-cache"]?.throughputRps),
					roundRatiosVsKvOnly: figures["kv-only"]
						? tc.roundsRps.map((x, i) => ratioOf(x, figures["kv-only"].roundsRps[i]))
						: null,
				}
			: {}),
	};
	log(
		`steady state, side by side (${rounds} rounds of ${window} requests): ` +
			rivals.map((v) => `${v} ${figures[v].throughputRps} req/s at ${figures[v].cpuUsPerRequest} µs`).join(", ") +
			(tc
				? `: tiercache ${["kv-only", "hono-cache"]
						.filter((v) => figures[v])
						.map((v) => `${ratioOf(tc.throughputRps, figures[v].throughputRps)}× ${v}`)
						.join(", ")}`
				: ""),
	);
});

// ---- stampede: N concurrent cold requests for one key ----------------------

/**
 * Runs one of the tests below, with tiercache only if its variant was
 * measured and did not fail; a failure (e.g. a runtime that stopped
 * answering) is logged and recorded in `failedSections`, and the report is
 * still written.
 */
async function section(name, run) {
	if (!variants.includes("tiercache") || results.failedVariants.tiercache) return;
	try {
		await run();
	} catch (err) {
		const message = err?.message ?? String(err);
		log(`${name}: failed, left out: ${message}`);
		results.failedSections[name] = message;
		for (const mf of liveInstances) await mf.dispose().catch(() => {});
	}
}

/** fetch, failing after `REQUEST_TIMEOUT_MS` without an answer (as the phases' client does). */
function fetchWithin(url, init = {}) {
	return fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/** One instance's /__bench/stats (the single-worker tests below). */
async function singleStats(base) {
	return (await fetchWithin(`${base}/__bench/stats`)).json();
}

/** Which tier answered (fetch's Headers): tiercache's Cache-Status, or the KV variants' marker. */
function servedBy(headers) {
	const hit = /tiercache-(memory|colo|kv); hit/.exec(headers.get("Cache-Status") ?? "");
	return hit ? hit[1] : (headers.get("X-Bench-Served") ?? "origin");
}

await section("stampede", async () => {
	const concurrent = 64;
	results.stampede = { concurrent };
	for (const variant of ["d1-direct", "tiercache"].filter((v) => variants.includes(v))) {
		const mf = miniflare(copyState(`stampede-${variant}`), variant);
		const base = (await mf.ready).origin;
		const before = await singleStats(base);
		await Promise.all(
			Array.from({ length: concurrent }, () => fetchWithin(`${base}/v1/products/4242`).then((r) => r.text())),
		);
		const after = await singleStats(base);
		await mf.dispose();
		const loads = after.originLoads - before.originLoads;
		if (variant === "tiercache") results.stampede.originLoads = loads;
		else results.stampede.originLoadsWithoutCache = loads;
	}
	log(
		`stampede: ${concurrent} concurrent cold requests -> ${results.stampede.originLoads} origin load(s) with tiercache`,
	);
});

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

await section("two locations", async () => {
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
	const read = async (base, id) => {
		const res = await fetchWithin(`${base}/v1/products/${id}`);
		const body = await res.json();
		return { name: body.data?.name, status: res.headers.get("Cache-Status"), timing: res.headers.get("Server-Timing") };
	};
	const backdate = async (ms) => {
		for (const { base } of [a, b])
			await (await fetchWithin(`${base}/__bench/kv-backdate?ms=${ms}`, { method: "POST" })).text();
	};
	const cacheStats = async (base) =>
		(await fetchWithin(`${base}/v1/_cache/stats`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json();

	// Warm-up: A reads every product three times (a load into memory and the
	// Cache API, then memory hits, the first of which writes it to KV); once
	// its KV writes (in waitUntil) have landed, B reads each three times: a KV
	// hit of the old version, then memory hits.
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
			const res = await fetchWithin(`${a.base}/v1/products/${id}`, {
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
			const res = await fetchWithin(`${a.base}/v1/webhooks/purge`, {
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
});

// ---- re-warm: the first read of hot keys after a write ---------------------

await section("re-warm", async () => {
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
			for (const id of ids) await (await fetchWithin(`${base}/v1/products/${id}`)).text();
		const before = (await singleStats(base)).queue.batches;
		const written = new Map();
		for (const id of ids) {
			const res = await fetchWithin(`${base}/v1/products/${id}`, {
				method: "PATCH",
				headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
				body: JSON.stringify({ stock: 900 + id }),
			});
			written.set(id, (await res.json()).data.stock);
		}
		// Wait for the purge queue to drain: batches seen, none running, then none for 1 s. With no
		// edge purger configured (as here) the writes queue nothing: then 2 s without a batch will do.
		const waitStarted = performance.now();
		const deadline = waitStarted + 20_000;
		let seen = before;
		let quietSince = waitStarted;
		while (performance.now() < deadline) {
			await new Promise((r) => setTimeout(r, 100));
			const { batches, running } = (await singleStats(base)).queue;
			if (batches !== seen || running > 0) {
				seen = batches;
				quietSince = performance.now();
			} else if (performance.now() - quietSince > (batches > before ? 1_000 : 2_000)) break;
		}
		let hits = 0;
		let fresh = 0;
		for (const id of ids) {
			const res = await fetchWithin(`${base}/v1/products/${id}`);
			const body = await res.json();
			if (servedBy(res.headers) !== "origin") hits++;
			if (body.data.stock === written.get(id)) fresh++;
		}
		const stats = await singleStats(base);
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
});

results.durationS = round((performance.now() - started) / 1000, 1);
results.machine = {
	cpus: os.cpus().length,
	// Other work on the machine moves every figure: the load average at the start and the end.
	loadAverage: { start: loadAtStart, end: os.loadavg().map((n) => round(n, 2)) },
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
const failed = [...Object.keys(results.failedVariants), ...Object.keys(results.failedSections)];
if (failed.length > 0) {
	log(`${failed.join(", ")} failed (failedVariants, failedSections in the JSON): the figures above leave them out`);
	process.exitCode = 1;
}

function hitLatency(byTier, p) {
	const hits = [...byTier].filter(([tier]) => tier !== "origin");
	if (hits.length === 0) return null;
	const [, biggest] = hits.sort((a, b) => b[1].count - a[1].count)[0];
	return round(biggest.percentileMs(p));
}

/** a ÷ b to two decimals; null when either is missing. */
function ratioOf(a, b) {
	return a == null || b == null ? null : round(a / b, 2);
}

function round(n, digits = 2) {
	const f = 10 ** digits;
	return Math.round(n * f) / f;
}
