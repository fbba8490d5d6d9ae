import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { get, seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

/** Runs `work` while D1's products table is away: every product read fails. */
async function withOriginDown<T>(work: () => Promise<T>): Promise<T> {
	await env.DB.exec("ALTER TABLE products RENAME TO products_away");
	try {
		return await work();
	} finally {
		await env.DB.exec("ALTER TABLE products_away RENAME TO products");
	}
}

const POLICY_TTL = 120; // the product route's fresh TTL (src/catalog/cache.ts)

describe("stale-while-revalidate", () => {
	it("serves the stale entry inside the window while exactly one refresh runs, then serves the refreshed one", async () => {
		const a = testApp();
		await a.request("/v1/products/1");
		a.advance((POLICY_TTL + 5) * 1000);
		const stale = await a.request("/v1/products/1");
		expect(stale.status).toBe(200);
		expect(cacheStatus(stale)).toBe("tiercache-memory; hit; ttl=-5; detail=stale-while-revalidate");
		expect(a.cache.stats.served.staleWhileRevalidate).toBe(1);
		expect(a.cache.stats.origin.loads).toBe(2); // the refresh ran in waitUntil
		expect(a.cache.stats.origin.backgroundRefreshes).toBe(1);
		const fresh = await a.request("/v1/products/1");
		expect(cacheStatus(fresh)).toMatch(/^tiercache-memory; hit; ttl=\d+$/);
		expect(a.cache.stats.origin.loads).toBe(2);
	});

	it("does not serve beyond the window: the next read goes to D1", async () => {
		const a = testApp();
		await a.request("/v1/products/2");
		a.advance((POLICY_TTL + 31) * 1000);
		const res = await a.request("/v1/products/2");
		expect(cacheStatus(res)).toMatch(/tiercache-memory; fwd=stale; stored$/);
		expect(a.cache.stats.origin.loads).toBe(2);
	});
});

describe("stale-if-error", () => {
	it("serves a stale entry inside the window when D1 fails, marked as such", async () => {
		const a = testApp();
		const body = await (await a.request("/v1/products/3")).text();
		a.advance((POLICY_TTL + 100) * 1000);
		const res = await withOriginDown(() => a.request("/v1/products/3"));
		expect(res.status).toBe(200);
		expect(await res.text()).toBe(body);
		expect(cacheStatus(res)).toBe("tiercache-memory; hit; ttl=-100; detail=stale-if-error");
		expect(a.cache.stats.served.staleIfError).toBe(1);
		expect(a.cache.stats.origin.errors).toBe(1);
	});

	it("answers 503 origin_unavailable with no-store outside the window", async () => {
		const a = testApp();
		await a.request("/v1/products/3");
		a.advance((POLICY_TTL + 301) * 1000);
		const res = await withOriginDown(() => a.request("/v1/products/3"));
		expect(res.status).toBe(503);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		expect(await res.json()).toMatchObject({ error: { code: "origin_unavailable" } });
		expect(a.cache.stats.served.unavailable).toBe(1);
	});

	it("never serves an entry that an invalidation rejected, even when D1 fails", async () => {
		const a = testApp();
		await a.request("/v1/products/1");
		await a.cache.invalidateTags(env, ["product:1"]);
		const res = await withOriginDown(() => a.request("/v1/products/1"));
		expect(res.status).toBe(503);
	});
});

describe("probabilistic early refresh (XFetch)", () => {
	it("refreshes a hot key before it expires when the draw says so, and serves the cached entry meanwhile", async () => {
		let draw = 0;
		const a = testApp({ random: () => draw });
		await a.request("/v1/products/1");
		a.advance(POLICY_TTL * 1000 - 10); // 10 ms before expiry
		// draw 0: -ln(1) = 0, never early; draw 0.01: 0.01 × the load time, far from 10 ms.
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/memory; hit; ttl=0$/);
		draw = 0.01;
		await a.request("/v1/products/1");
		expect(a.cache.stats.origin.earlyRefreshes).toBe(0);
		// A draw close to 1 makes -ln(1 - draw) large (27.6 × the load time, at least 1 ms): refresh now.
		draw = 1 - 1e-12;
		const res = await a.request("/v1/products/1");
		expect(cacheStatus(res)).toMatch(/memory; hit; ttl=0$/);
		expect(a.cache.stats.origin.earlyRefreshes).toBe(1);
		expect(a.cache.stats.origin.loads).toBe(2);
		draw = 0;
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/memory; hit; ttl=1[12]\d/);
	});

	it("refreshes early more often the closer the entry is to expiry", () => {
		// The XFetch condition for a 20 ms load with beta 1, over uniform draws.
		const share = (secondsLeft: number) => {
			let n = 0;
			for (let i = 1; i < 10_000; i++) if (20 * -Math.log(1 - i / 10_000) >= secondsLeft * 1000) n++;
			return n / 10_000;
		};
		expect(share(0.01)).toBeGreaterThan(share(0.05));
		expect(share(0.05)).toBeGreaterThan(share(0.2));
		expect(share(60)).toBe(0);
	});
});

describe("negative caching", () => {
	it("caches a 404 briefly with the tag it would have had, then loads again", async () => {
		const a = testApp();
		const first = await a.request("/v1/products/777");
		expect(first.status).toBe(404);
		expect(first.headers.get("Cache-Tag")).toBe("product:777");
		expect(first.headers.get("Cache-Control")).toBe("public, max-age=0");
		expect(first.headers.get("CDN-Cache-Control")).toMatch(/^max-age=(9|10)$/);
		const second = await a.request("/v1/products/777");
		expect(second.status).toBe(404);
		expect(cacheStatus(second)).toMatch(/memory; hit/);
		a.advance(11_000);
		expect(cacheStatus(await a.request("/v1/products/777"))).toMatch(/memory; fwd=stale; stored$/);
		expect(a.cache.stats.origin.loads).toBe(2);
	});
});

describe("the stats route", () => {
	it("is admin only and reports per-tier counters", async () => {
		expect((await get("/v1/_cache/stats")).status).toBe(401);
		const a = testApp();
		await a.request("/v1/categories");
		await a.request("/v1/categories");
		const res = await a.request("/v1/_cache/stats", { headers: { Authorization: "Bearer test-admin-token" } });
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		const stats = (await res.json()) as {
			origin: { loads: number };
			tiers: Record<string, { hits: number; misses: number }>;
			purges: object;
			clock: Record<string, number>;
		};
		expect(stats.origin.loads).toBe(1);
		expect(stats.tiers.memory).toMatchObject({ hits: 1, misses: 1 });
		expect(stats.tiers.colo).toMatchObject({ hits: 0, misses: 1 });
		expect(stats.tiers.kv).toMatchObject({ hits: 0, misses: 1 });
		expect(stats.purges).toEqual({ invalidations: 0, tags: 0, edgePurgedNow: 0, edgeErrors: 0, enqueueErrors: 0 });
		// One read of the clock from D1 (the first request waited for it), then none within the second.
		const counter = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
		expect(stats.clock).toMatchObject({ d1Reads: 1, sharedReads: 0, waits: 1, counter: counter?.value });
		expect(stats.clock.viewAgeMs).toBeGreaterThanOrEqual(0);
		expect(stats.clock.viewAgeMs).toBeLessThan(1000);
	});
});

describe("POLICY_OVERRIDES (development only)", () => {
	const dev = { ENVIRONMENT: "development", ORIGIN_DELAY_MS: "0" };
	it("replaces every route's windows in development", async () => {
		const a = testApp();
		const res = await a.request(
			"/v1/products/1",
			{},
			{ ...dev, POLICY_OVERRIDES: "ttl=2,staleWhileRevalidate=1,staleIfError=4" },
		);
		expect(res.headers.get("CDN-Cache-Control")).toBe("max-age=2, stale-while-revalidate=1, stale-if-error=4");
		a.advance(3_500); // past ttl + stale-while-revalidate
		const later = await a.request(
			"/v1/products/1",
			{},
			{ ...dev, POLICY_OVERRIDES: "ttl=2,staleWhileRevalidate=1,staleIfError=4" },
		);
		expect(cacheStatus(later)).toMatch(/memory; fwd=stale/);
	});

	it("is ignored in production, and reported and ignored when malformed", async () => {
		const a = testApp();
		const prod = await a.request("/v1/products/2", {}, { POLICY_OVERRIDES: "ttl=2" });
		expect(prod.headers.get("CDN-Cache-Control")).toMatch(/^max-age=1[12]\d, /);
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		const bad = await a.request("/v1/products/3", {}, { ...dev, POLICY_OVERRIDES: "ttl=soon" });
		expect(bad.headers.get("CDN-Cache-Control")).toMatch(/^max-age=1[12]\d, /);
		expect(warn.mock.calls.map(([line]) => String(line)).join("\n")).toMatch(/POLICY_OVERRIDES ignored/);
		warn.mockRestore();
	});
});
