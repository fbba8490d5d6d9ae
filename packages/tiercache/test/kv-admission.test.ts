import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { kvKey } from "../src/kv-cache.js";
import { definePolicy } from "../src/policy.js";
import { createTierCache } from "../src/tier-cache.js";

type Bindings = { DB: D1Database; CACHE_KV: KVNamespace };

/** An isolate of one location (`cacheName`) whose route is cached with this KV admission. */
function isolate(name: string, location: string, kvAdmission: "fill" | "second-request") {
	const cache = createTierCache<{ Bindings: Bindings }, ReturnType<typeof drizzle>>({
		database: (e) => e.DB,
		kv: (e) => e.CACHE_KV,
		createDb: (d1) => drizzle(d1),
		version: () => name,
		cacheName: `${name}-${location}`,
	});
	const policy = cache.policy({ name: "item", ttl: 60, kvAdmission });
	const app = new Hono<{ Bindings: Bindings }>();
	app.get("/items/:id", (c) =>
		cache.read(c, policy, async (origin) => {
			await origin.batch([origin.db.run("SELECT 1")]);
			return { status: 200 as const, body: { id: c.req.param("id") }, tags: [`item:${c.req.param("id")}`] };
		}),
	);
	async function status(path: string) {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request(`http://items.test${path}`), env, ctx);
		await waitOnExecutionContext(ctx);
		return res.headers.get("Cache-Status") ?? "";
	}
	return { cache, status };
}

const inKv = async (name: string, id: number) =>
	(await env.CACHE_KV.get(await kvKey(`${name}/item?p.id=${id}`))) !== null;

describe('kvAdmission: "second-request"', () => {
	it("writes a load to KV only when this isolate is asked for it again, and says so", async () => {
		const a = isolate("admit-second", "here", "second-request");
		const first = await a.status("/items/1");
		expect(first).toBe("tiercache-kv; fwd=miss, tiercache-colo; fwd=miss; stored, tiercache-memory; fwd=miss; stored");
		expect(await inKv("admit-second", 1)).toBe(false);
		expect(a.cache.stats.tiers.kv.writes).toBe(0);
		// The second request is a memory hit, which writes the entry to KV (once).
		expect(await a.status("/items/1")).toMatch(/^tiercache-memory; hit/);
		expect(await a.status("/items/1")).toMatch(/^tiercache-memory; hit/);
		expect(a.cache.stats.tiers.kv.writes).toBe(1);
		expect(await inKv("admit-second", 1)).toBe(true);
		// Another location then finds it in KV.
		const b = isolate("admit-second", "elsewhere", "second-request");
		expect(await b.status("/items/1")).toMatch(/^tiercache-kv; hit/);
		expect(a.cache.stats.origin.loads + b.cache.stats.origin.loads).toBe(1);
	});

	it("leaves a key read once out of KV", async () => {
		const a = isolate("admit-once", "here", "second-request");
		for (const id of [1, 2, 3]) await a.status(`/items/${id}`);
		expect(a.cache.stats.tiers.kv.writes).toBe(0);
		for (const id of [1, 2, 3]) expect(await inKv("admit-once", id)).toBe(false);
	});

	it('is "fill" by default: every load is written to KV at once', async () => {
		expect(definePolicy({ name: "x" }).kvAdmission).toBe("fill");
		expect(() => definePolicy({ name: "x", kvAdmission: "third" as never })).toThrow(/kvAdmission/);
		const a = isolate("admit-fill", "here", "fill");
		expect(await a.status("/items/1")).toMatch(/^tiercache-kv; fwd=miss; stored/);
		expect(await inKv("admit-fill", 1)).toBe(true);
	});
});
