// The benchmark's Worker: the same catalog reads served seven ways, chosen by
// BENCH_VARIANT. Writes go through the catalog's admin route for every
// variant (the same authentication, validation and D1 queries, so every
// variant sees the same data changes); only tiercache's then invalidate its
// cache. Not deployed: `npm run bench` bundles it.
// The benchmark runs it as two workers (two isolates) of one Miniflare
// instance, which share D1, KV and the Cache API: one location.
import { type Context, Hono } from "hono";
import { cache as honoCache } from "hono/cache";
import type { Loaded, Loader } from "tiercache";
import { consumePurgeBatch } from "tiercache/purge";
import { createApp } from "../src/app";
import { originDelayMs } from "../src/catalog/cache";
import { presentProduct, presentReview } from "../src/catalog/present";
import { categoryBySlug } from "../src/db/categories";
import { createDb, type Db } from "../src/db/client";
import { toPage } from "../src/db/pagination";
import { listProducts, productById } from "../src/db/products";
import { listReviews } from "../src/db/reviews";
import type { AppEnv, Bindings } from "../src/env";
import { laggingKv } from "./lib/lagging-kv";
import { countCacheApi, countingKv, storageOps } from "./lib/storage-ops";

countCacheApi();

type BenchEnv = Bindings & {
	BENCH_VARIANT?: string;
	BENCH_REWARM?: string;
	BENCH_KV_LAG_S?: string;
	BENCH_HEAD_CHECK_MS?: string;
};

// The two-location test sets BENCH_KV_LAG_S at every location (0 where the
// changes are made): tiercache's KV tier then goes through the lagging
// wrapper (bench/lib/lagging-kv.ts), whose reads see values as they were that
// many seconds ago. Writes made while `kvBackdateMs` is set (the warm-up,
// through /__bench/kv-backdate) are stamped that far in the past.
let kvBackdateMs = 0;
function benchKv(env: BenchEnv): KVNamespace {
	if (env.BENCH_KV_LAG_S === undefined) return countingKv(env.CACHE_KV);
	return laggingKv(countingKv(env.CACHE_KV), {
		lagMs: Number(env.BENCH_KV_LAG_S) * 1000,
		backdateMs: () => kvBackdateMs,
	});
}

// tiercache, made on the first request: BENCH_HEAD_CHECK_MS (`--head-check-ms`)
// sets its clock's `headCheckMs`, how long its writes wait for their location
// (0: they answer at once, and the location's other isolates learn at their
// view's refresh age).
let tiercacheApp: ReturnType<typeof createApp> | undefined;
function tiercacheOf(env: BenchEnv): ReturnType<typeof createApp> {
	if (!tiercacheApp) {
		const headCheckMs = env.BENCH_HEAD_CHECK_MS === undefined ? undefined : Number(env.BENCH_HEAD_CHECK_MS);
		tiercacheApp = createApp({
			cacheOptions: {
				kv: (e) => benchKv(e as BenchEnv),
				...(headCheckMs === undefined ? {} : { clock: { headCheckMs } }),
			},
		});
	}
	return tiercacheApp;
}

// app-floor: the same Hono app, middleware, routes and validators, whose
// routes answer a constant body of a product answer's size instead of asking
// the engine: what tiercache costs above it is the engine's own cost. With
// /__bench/floor-headers on, it answers with the headers the contract asks of
// a cached answer too (those of a product page's memory hit, set as a Hono
// handler sets them): what they cost, whoever sends them.
const floor = createApp();
let floorHeaders = false;
(floor.cache as unknown as { read: (c: Context) => Response }).read = (c) =>
	floorHeaders
		? c.body(CONSTANT_BODY, 200, CONTRACT_HEADERS)
		: c.body(CONSTANT_BODY, 200, { "Content-Type": "application/json" });

// The writes of every variant but tiercache: the same app's admin route
// (authentication, validation, the same D1 queries) without tiercache's
// invalidation, which a TTL cache does not have: no tag bumps, no
// announcement and its wait, no purge, and no write-through (the update's
// batch without the engine's `cache_seq` read, nothing stored). tiercache's
// writes pay for all of them.
const plainWrites = createApp();
type PlainEngine = {
	afterWrite: () => Promise<void>;
	batch: (db: Db, queries: never) => Promise<{ results: unknown; snapshot: undefined }>;
	store: () => Promise<number>;
};
Object.assign(plainWrites.cache as unknown as PlainEngine, {
	afterWrite: async () => {},
	batch: async (db: Db, queries: never) => ({ results: await db.batch(queries), snapshot: undefined }),
	store: async () => 0,
} satisfies PlainEngine);

let frontDoor = true;

const counters = { reads: 0, originLoads: 0, kvWrites: 0, hits: { memory: 0, colo: 0, kv: 0 } };
const queue = { batches: 0, running: 0, rewarmed: 0 };

const CONSTANT_BODY = JSON.stringify({
	data: {
		id: 1,
		sku: "TC-000001",
		slug: "foldable-glass-board-1",
		name: "Foldable Glass Board",
		description: "Refined over many versions. Built to last.",
		priceCents: 7239,
		currency: "USD",
		categoryId: 19,
		stock: 78,
		rating: { average: 2.26, count: 482 },
		createdAt: "2025-02-10T11:25:14.148Z",
		updatedAt: "2025-02-10T11:25:14.148Z",
	},
});

const CONTRACT_HEADERS = {
	"Content-Type": "application/json",
	ETag: '"4c1782232a3cd19e"',
	"Cache-Control": "public, max-age=0",
	"CDN-Cache-Control": "max-age=119, stale-while-revalidate=30, stale-if-error=300",
	"Surrogate-Control": "max-age=119, stale-while-revalidate=30, stale-if-error=300",
	"Cloudflare-CDN-Cache-Control": "max-age=119, stale-while-revalidate=30, stale-if-error=300",
	"Cache-Tag": "product:7,category:18",
	"Surrogate-Key": "product:7 category:18",
	"Cache-Status": "tiercache-memory; hit; ttl=119",
	"Server-Timing": "memory;dur=0",
};

const json = (body: string, status = 200) =>
	new Response(body, { status, headers: { "Content-Type": "application/json" } });

/**
 * The uncached answer to a read: the same queries as tiercache's loaders, in
 * one D1 batch each as theirs (tiercache adds its `cache_seq` read to the
 * batch), after the same origin delay.
 */
async function loadFromD1(env: BenchEnv, url: URL): Promise<Response> {
	counters.originLoads++;
	const delay = originDelayMs(env);
	if (delay > 0) await scheduler.wait(delay);
	const db = createDb(env.DB);
	const page = { page: Number(url.searchParams.get("page") ?? 1), limit: Number(url.searchParams.get("limit") ?? 20) };
	const reviews = /^\/v1\/products\/(\d+)\/reviews$/.exec(url.pathname);
	if (reviews) {
		const id = Number(reviews[1]);
		const [[product], rows] = await db.batch([productById(db, id), listReviews(db, id, page)]);
		if (!product) return json('{"error":{"code":"not_found"}}', 404);
		const p = toPage(rows, page);
		return json(JSON.stringify({ data: p.items.map(presentReview), page: p.page, limit: p.limit, next: p.next }));
	}
	const product = /^\/v1\/products\/(\d+)$/.exec(url.pathname);
	if (product) {
		const [[row]] = await db.batch([productById(db, Number(product[1]))]);
		return row ? json(JSON.stringify({ data: presentProduct(row) })) : json('{"error":{"code":"not_found"}}', 404);
	}
	if (url.pathname === "/v1/products") {
		const category = url.searchParams.get("category") ?? undefined;
		const query = { ...page, sort: "newest" as const, category };
		let rows: Awaited<ReturnType<typeof listProducts>>;
		if (category === undefined) [rows] = await db.batch([listProducts(db, query)]);
		else {
			const [found, listed] = await db.batch([categoryBySlug(db, category), listProducts(db, query)]);
			if (found.length === 0) return json('{"error":{"code":"not_found"}}', 404);
			rows = listed;
		}
		const p = toPage(rows, page);
		return json(JSON.stringify({ data: p.items.map(presentProduct), page: p.page, limit: p.limit, next: p.next }));
	}
	return json('{"error":{"code":"not_found"}}', 404);
}

const honoCached = new Hono<{ Bindings: BenchEnv }>();
honoCached.get("*", honoCache({ cacheName: "bench-hono-cache", cacheControl: "max-age=60", wait: false }), (c) =>
	loadFromD1(c.env, new URL(c.req.url)),
);

/**
 * The hand-written KV read-through of kv-only and kv-in-app: the URL's value
 * in KV, else `load`'s answer, written to KV (60 s) in `waitUntil` when 200.
 */
async function kvReadThrough(
	env: BenchEnv,
	ctx: ExecutionContext,
	url: URL,
	load: () => Promise<{ status: number; body: string }>,
): Promise<{ status: number; body: string; hit: boolean }> {
	const key = `bench:${url.pathname}${url.search}`;
	const kv = countingKv(env.CACHE_KV);
	const cached = await kv.get(key);
	if (cached !== null) {
		counters.hits.kv++;
		return { status: 200, body: cached, hit: true };
	}
	const loaded = await load();
	if (loaded.status === 200) {
		counters.kvWrites++;
		ctx.waitUntil(kv.put(key, loaded.body, { expirationTtl: 60 }));
	}
	return { ...loaded, hit: false };
}

async function kvOnly(env: BenchEnv, ctx: ExecutionContext, url: URL): Promise<Response> {
	const answer = await kvReadThrough(env, ctx, url, async () => {
		const response = await loadFromD1(env, url);
		return { status: response.status, body: await response.text() };
	});
	const response = json(answer.body, answer.status);
	if (answer.hit) response.headers.set("X-Bench-Served", "kv");
	return response;
}

// kv-in-app: kv-only's read-through, written inside the same Hono app as
// tiercache (routes, middleware, validators, and the routes' own loaders with
// the same queries as kv-only's): a hand-written KV cache in the app tiercache
// runs in, answering with one header as kv-only does.
const kvApp = createApp();
type ReadStub = (c: Context, policy: unknown, load: Loader<Db, Loaded>) => Promise<Response>;
(kvApp.cache as unknown as { read: ReadStub }).read = async (c, _policy, load) => {
	const env = c.env as BenchEnv;
	const answer = await kvReadThrough(env, c.executionCtx as ExecutionContext, new URL(c.req.url), async () => {
		counters.originLoads++;
		const delay = originDelayMs(env);
		if (delay > 0) await scheduler.wait(delay);
		const db = createDb(env.DB);
		const loaded = await load({ db, batch: (queries) => db.batch(queries) });
		return { status: loaded.status, body: JSON.stringify(loaded.body) };
	});
	const headers: Record<string, string> = { "Content-Type": "application/json" };
	if (answer.hit) headers["X-Bench-Served"] = "kv";
	return c.body(answer.body, answer.status as Loaded["status"], headers);
};

function stats(env: BenchEnv, variant: string) {
	if (variant === "tiercache") {
		const tiercache = tiercacheOf(env);
		const s = tiercache.cache.stats;
		return {
			reads: s.requests,
			originLoads: s.origin.loads,
			hits: { memory: s.tiers.memory.hits, colo: s.tiers.colo.hits, kv: s.tiers.kv.hits },
			kvWrites: s.tiers.kv.writes,
			byCause: s.origin.byCause,
			byRoute: s.origin.byRoute,
			evictions: tiercache.cache.memory.evictions,
			clock: tiercache.cache.clock.counters,
			stored: s.stored,
			queue,
			storageOps,
		};
	}
	if (variant === "hono-cache") {
		// Hono's middleware hides its hits: every read that did not reach D1 was one.
		return { ...counters, storageOps, hits: { memory: 0, colo: counters.reads - counters.originLoads, kv: 0 } };
	}
	return { ...counters, storageOps };
}

export default {
	async fetch(request, env, ctx) {
		const url = new URL(request.url);
		const variant = env.BENCH_VARIANT ?? "tiercache";
		if (url.pathname === "/__bench/stats") return Response.json({ variant, ...stats(env, variant) });
		if (url.pathname === "/__bench/floor-headers" && request.method === "POST") {
			floorHeaders = url.searchParams.get("on") === "1";
			return Response.json({ floorHeaders });
		}
		if (url.pathname === "/__bench/front-door" && request.method === "POST") {
			frontDoor = url.searchParams.get("on") === "1";
			return Response.json({ frontDoor });
		}
		if (url.pathname === "/__bench/kv-backdate" && request.method === "POST") {
			kvBackdateMs = Number(url.searchParams.get("ms") ?? 0) || 0;
			return Response.json({ kvBackdateMs });
		}
		// tiercache as the Worker runs it: the app behind the engine's front door
		// (or, with /__bench/front-door off, the app alone).
		if (variant === "tiercache") {
			const tiercache = tiercacheOf(env);
			return (frontDoor ? tiercache.serve : tiercache.fetch)(request, env as AppEnv["Bindings"], ctx);
		}
		if (request.method !== "GET") return plainWrites.fetch(request, env as AppEnv["Bindings"], ctx);
		counters.reads++;
		switch (variant) {
			case "constant":
				return json(CONSTANT_BODY);
			case "app-floor":
				return floor.fetch(request, env as AppEnv["Bindings"], ctx);
			case "d1-direct":
				return loadFromD1(env, url);
			case "hono-cache":
				return honoCached.fetch(request, env, ctx);
			case "kv-only":
				return kvOnly(env, ctx, url);
			case "kv-in-app":
				return kvApp.fetch(request, env as AppEnv["Bindings"], ctx);
			default:
				return json(`{"error":"unknown BENCH_VARIANT ${variant}"}`, 500);
		}
	},

	// The purge queue as the Worker runs it (no edge purgers locally), with
	// re-warm unless BENCH_REWARM=off.
	async queue(batch, env, ctx) {
		queue.running++;
		const result = await consumePurgeBatch(batch, env.PURGE_QUEUE, [], {
			repurgeDelayS: 60,
			rewarm:
				env.BENCH_REWARM === "off"
					? undefined
					: (target) => {
							const tiercache = tiercacheOf(env);
							return tiercache.cache.rewarm(target, async (url) => tiercache.fetch(new Request(url), env, ctx));
						},
		});
		queue.batches++;
		queue.running--;
		queue.rewarmed += result.rewarmed ?? 0;
	},
} satisfies ExportedHandler<BenchEnv>;
