import { createMessageBatch } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { consumePurgeBatch } from "tiercache/purge";
import { beforeAll, describe, expect, it } from "vitest";
import { precomputeTopProducts } from "../src/catalog/precompute";
import { cacheStatus, testApp } from "./helpers/app";
import { ADMIN, fetchApp, seedSmallCatalog } from "./helpers/fixtures";

type Ranking = {
	data: { id: number; score: number; rating: { average: number; count: number } }[];
	limit: number;
	prior: { mean: number; weight: number };
};

beforeAll(async () => {
	await seedSmallCatalog();
	// Product 1: 5, 4 (from the fixtures), 1, 1. Product 2: forty good reviews
	// (mean 4.75). Product 3: one perfect review (mean 5).
	const reviews = [
		"(1, 1)",
		"(1, 1)",
		...Array.from({ length: 30 }, () => "(2, 5)"),
		...Array.from({ length: 10 }, () => "(2, 4)"),
		"(3, 5)",
	].join(", ");
	await env.DB.exec(`INSERT INTO reviews (product_id, rating) VALUES ${reviews}`);
	await env.DB.exec(
		"UPDATE products SET rating_count = (SELECT count(*) FROM reviews r WHERE r.product_id = products.id), " +
			"rating_sum = (SELECT coalesce(sum(rating), 0) FROM reviews r WHERE r.product_id = products.id)",
	);
	await env.DB.exec(
		"UPDATE products SET rating_average = CASE rating_count WHEN 0 THEN 0 ELSE round(CAST(rating_sum AS REAL) / rating_count, 2) END",
	);
});

describe("GET /v1/top-products", () => {
	it("ranks by Bayesian average: many good reviews beat one perfect one", async () => {
		const a = testApp();
		const res = await a.request("/v1/top-products");
		expect(res.status).toBe(200);
		const body = (await res.json()) as Ranking;
		// The prior (the catalog's mean, 206 / 45) weighs ten reviews: one 5 is not enough to lead.
		expect(body.data.map((p) => p.id)).toEqual([2, 3, 1]);
		expect(body.prior).toEqual({ mean: expect.closeTo(206 / 45, 2), weight: 10 });
		// score = (10·m + Σ) / (10 + n)
		const p3 = body.data.find((p) => p.id === 3);
		expect(p3?.score).toBeCloseTo((10 * body.prior.mean + 5) / 11, 2);
		expect(res.headers.get("Cache-Tag")).toBe("top-products");
	});

	it("serves every limit from one stored ranking per scope, each with its own ETag", async () => {
		const a = testApp();
		const two = await a.request("/v1/top-products?limit=2");
		const one = await a.request("/v1/top-products?limit=1");
		expect(((await two.json()) as Ranking).data).toHaveLength(2);
		expect(((await one.json()) as Ranking).limit).toBe(1);
		expect(cacheStatus(one)).toMatch(/memory; hit/);
		expect(one.headers.get("ETag")).not.toBe(two.headers.get("ETag"));
		expect(a.cache.stats.origin.byRoute["top-products"]).toBe(1);
	});

	it("filters by category, 404s for an unknown one, 400s for a bad limit", async () => {
		const a = testApp();
		const kitchen = await a.request("/v1/top-products?category=kitchen");
		expect(((await kitchen.json()) as Ranking).data.map((p) => p.id)).toEqual([2, 1]);
		expect(kitchen.headers.get("Cache-Tag")).toBe("top-products,category:1");
		expect((await a.request("/v1/top-products?category=none")).status).toBe(404);
		expect((await a.request("/v1/top-products?limit=101")).status).toBe(400);
		expect((await a.request("/v1/top-products?sort=name")).status).toBe(400);
	});
});

describe("precompute on the Cron Trigger", () => {
	it("after the scheduled handler, the route serves without running the aggregate", async () => {
		const stats = async () =>
			(
				(await (await fetchApp("/v1/_cache/stats", { headers: ADMIN })).json()) as {
					origin: { byRoute: Record<string, number> };
				}
			).origin.byRoute["top-products"] ?? 0;
		await (exports.default as unknown as { scheduled(o: { cron: string }): Promise<unknown> }).scheduled({
			cron: "* * * * *",
		});
		const afterCron = await stats();
		expect(afterCron).toBeGreaterThanOrEqual(3); // overall, kitchen, garden
		for (const path of [
			"/v1/top-products",
			"/v1/top-products?category=kitchen&limit=1",
			"/v1/top-products?category=garden",
		]) {
			const res = await fetchApp(path);
			expect(res.status).toBe(200);
			expect(cacheStatus(res)).toMatch(/tiercache-memory; hit/);
		}
		expect(await stats()).toBe(afterCron);
	});

	it("recomputes only the scopes whose data changed since the last run", async () => {
		const a = testApp({ shareKeys: true });
		await precomputeTopProducts(env, a.cache, a.app.policies);
		expect((await precomputeTopProducts(env, a.cache, a.app.policies)).scopes).toEqual([]);
		await env.DB.exec("INSERT INTO reviews (product_id, rating) VALUES (3, 1)"); // garden
		expect((await precomputeTopProducts(env, a.cache, a.app.policies)).scopes).toEqual([null, "garden"]);
		await env.DB.exec("UPDATE products SET category_id = 2 WHERE id = 1"); // kitchen → garden
		expect((await precomputeTopProducts(env, a.cache, a.app.policies)).scopes).toEqual([null, "garden", "kitchen"]);
		await env.DB.exec("UPDATE products SET category_id = 1 WHERE id = 1");
	});
});

describe("soft invalidation (top-products)", () => {
	it("serves the invalidated ranking once while one refresh runs, then the fresh one", async () => {
		const a = testApp();
		await a.request("/v1/top-products?category=garden");
		await env.DB.exec("UPDATE products SET name = 'Soft rake' WHERE id = 3");
		await a.cache.invalidateTags(env, ["top-products"]);
		const stale = await a.request("/v1/top-products?category=garden");
		expect(cacheStatus(stale)).toMatch(/^tiercache-memory; hit; ttl=-1; detail=invalidated$/);
		expect(a.cache.stats.origin.byRoute["top-products"]).toBe(2); // exactly one refresh
		const fresh = await a.request("/v1/top-products?category=garden");
		expect(cacheStatus(fresh)).toMatch(/^tiercache-memory; hit; ttl=\d+$/);
		expect(((await fresh.json()) as { data: { name: string }[] }).data.map((p) => p.name)).toContain("Soft rake");
	});

	it("never serves it beyond the stale-while-revalidate window", async () => {
		const a = testApp();
		await a.request("/v1/top-products?category=kitchen");
		await a.cache.invalidateTags(env, ["category:1"]);
		await env.DB.exec("ALTER TABLE products RENAME TO products_away");
		try {
			// The refresh fails: the stale ranking keeps being served inside the window…
			expect(cacheStatus(await a.request("/v1/top-products?category=kitchen"))).toMatch(/detail=invalidated/);
			a.advance(3_000_000);
			expect(cacheStatus(await a.request("/v1/top-products?category=kitchen"))).toMatch(/detail=invalidated/);
			// …and not after it (3,600 s after this isolate first saw it invalidated).
			a.advance(700_000);
			expect((await a.request("/v1/top-products?category=kitchen")).status).toBe(503);
		} finally {
			await env.DB.exec("ALTER TABLE products_away RENAME TO products");
		}
	});

	it("leaves hard-invalidated routes hard", async () => {
		const a = testApp();
		await a.request("/v1/products/2");
		await a.cache.invalidateTags(env, ["product:2"]);
		expect(cacheStatus(await a.request("/v1/products/2"))).toMatch(/memory; fwd=miss; detail=invalidated/);
	});
});

describe("re-warm after a purge", () => {
	async function purgeAndConsume(a: ReturnType<typeof testApp>, tags: string[], rewarm: boolean) {
		await a.cache.invalidateTags(env, tags);
		const batch = createMessageBatch("tiercache-purge", [
			{ id: "m", timestamp: new Date(), attempts: 1, body: { tags } },
		]);
		return consumePurgeBatch(batch, env.PURGE_QUEUE, [], {
			repurgeDelayS: 60,
			rewarm: rewarm
				? (target) => a.cache.rewarm(target, (url) => a.request(new URL(url).pathname + new URL(url).search))
				: undefined,
		});
	}

	it("turns the next read of a hot key after its invalidation into a hit with fresh data", async () => {
		const a = testApp();
		for (let i = 0; i < 5; i++) await a.request("/v1/products/1");
		await a.request("/v1/products/2"); // colder, and untouched by the purge
		await env.DB.exec("UPDATE products SET stock = 501 WHERE id = 1");
		const result = await purgeAndConsume(a, ["product:1"], true);
		expect(result.rewarmed).toBe(1);
		const res = await a.request("/v1/products/1");
		expect(cacheStatus(res)).toMatch(/^tiercache-memory; hit/);
		expect(((await res.json()) as { data: { stock: number } }).data.stock).toBe(501);
	});

	it("without re-warm, the same read is a miss", async () => {
		const a = testApp();
		for (let i = 0; i < 5; i++) await a.request("/v1/products/1");
		await env.DB.exec("UPDATE products SET stock = 502 WHERE id = 1");
		await purgeAndConsume(a, ["product:1"], false);
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/memory; fwd=miss; detail=invalidated/);
	});

	it("is bounded in count and skipped while the origin is failing", async () => {
		const a = testApp();
		for (const id of [1, 2, 3]) await a.request(`/v1/products/${id}`);
		const calls: string[] = [];
		const fetchPath = async (url: string) => {
			calls.push(url);
			return new Response("{}");
		};
		expect(await a.cache.rewarm({ everything: true }, fetchPath, { max: 2 })).toEqual({ rewarmed: 2, skipped: false });
		expect(calls).toHaveLength(2);
		await env.DB.exec("ALTER TABLE products RENAME TO products_away");
		try {
			expect((await a.request("/v1/products/777")).status).toBe(503);
		} finally {
			await env.DB.exec("ALTER TABLE products_away RENAME TO products");
		}
		expect(await a.cache.rewarm({ everything: true }, fetchPath)).toEqual({ rewarmed: 0, skipped: true });
		expect(calls).toHaveLength(2);
	});
});

describe("re-warm on write (rewarmOnWrite)", () => {
	const rename = (app: ReturnType<typeof testApp>, id: number, name: string) =>
		app.request(`/v1/products/${id}`, {
			method: "PATCH",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ name }),
		});
	const nameOf = async (res: Response) => ((await res.json()) as { data: { name: string } }).data.name;

	// A product page is written through by its write (test/write-through.test.ts); a listing that shows the
	// product is what a write leaves to re-warm.
	const LISTING = "/v1/products?category=kitchen";
	const names = async (res: Response) =>
		((await res.json()) as { data: { name: string }[] }).data.map((product) => product.name);

	it("reloads the hot keys a write touched before it answers: the next read anywhere in the location is a hit", async () => {
		const a = testApp({ shareKeys: true, cacheName: "rewarm-on-write" });
		const b = testApp({ shareKeys: true, cacheName: "rewarm-on-write" });
		b.clock.now = a.clock.now;
		await a.request(LISTING);
		await a.request(LISTING); // read twice at a: hot
		await b.request(LISTING);
		const loadsAtB = b.cache.stats.origin.loads;
		expect((await rename(a, 1, "Kettle, re-warmed")).status).toBe(200);
		expect(a.cache.stats.rewarm.keys).toBe(1);
		// The writer's own next read: a memory hit of the new version.
		const atA = await a.request(LISTING);
		expect(cacheStatus(atA)).toMatch(/^tiercache-memory; hit/);
		expect(await names(atA)).toContain("Kettle, re-warmed");
		// Another isolate: its memory entry is overtaken, the Cache API holds the re-warmed one.
		b.clock.now = a.clock.now;
		const atB = await b.request(LISTING);
		expect(await names(atB)).toContain("Kettle, re-warmed");
		expect(cacheStatus(atB)).toMatch(/tiercache-colo; hit/);
		expect(b.cache.stats.origin.loads).toBe(loadsAtB);
	});

	it("leaves a key read once alone: its next reader loads it", async () => {
		const a = testApp();
		await a.request(LISTING);
		expect((await rename(a, 2, "Mug, read once")).status).toBe(200);
		expect(a.cache.stats.rewarm.keys).toBe(0);
		const next = await a.request(LISTING);
		expect(cacheStatus(next)).toMatch(/memory; fwd=miss; detail=invalidated/);
		expect(await names(next)).toContain("Mug, read once");
	});

	it("leaves a hot key that the write stored alone: it is current already", async () => {
		const a = testApp();
		await a.request("/v1/products/2");
		await a.request("/v1/products/2"); // hot, and written through by the rename
		const loads = a.cache.stats.origin.loads;
		expect((await rename(a, 2, "Mug, written through")).status).toBe(200);
		expect(a.cache.stats.rewarm.keys).toBe(0);
		const next = await a.request("/v1/products/2");
		expect(cacheStatus(next)).toMatch(/^tiercache-memory; hit/);
		expect(await nameOf(next)).toBe("Mug, written through");
		expect(a.cache.stats.origin.loads).toBe(loads);
	});

	it("is off without the option", async () => {
		const a = testApp({ rewarmOnWrite: undefined });
		await a.request(LISTING);
		await a.request(LISTING);
		expect((await rename(a, 1, "Pan, not re-warmed")).status).toBe(200);
		expect(a.cache.stats.rewarm.keys).toBe(0);
		expect(cacheStatus(await a.request(LISTING))).toMatch(/memory; fwd=miss; detail=invalidated/);
	});
});
