import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { createTierCache } from "../src/tier-cache.js";

// The memory hit answered without a promise (TierCache#memoryHit) must be the
// same answer as the full read path's, and give way to it whenever it is not.
const pages = sqliteTable("hit_pages", { id: integer("id").primaryKey(), text: text("text").notNull() });
type Bindings = { DB: D1Database; CACHE_KV: KVNamespace };

function pagesApp(name: string, version: () => string | Promise<string> = () => name, now?: () => number) {
	const cache = createTierCache<{ Bindings: Bindings }, ReturnType<typeof drizzle>>({
		now,
		database: (e) => e.DB,
		kv: (e) => e.CACHE_KV,
		createDb: (d1) => drizzle(d1),
		version,
		cacheName: name,
	});
	const policy = cache.policy({ name: "page", ttl: 60 });
	const preset: { header?: [string, string] } = {};
	const app = new Hono<{ Bindings: Bindings }>();
	app.use(async (c, next) => {
		if (preset.header) c.header(...preset.header);
		await next();
	});
	app.get("/pages/:id", (c) =>
		cache.read(c, policy, async (origin) => {
			const id = Number(c.req.param("id"));
			const [[row]] = await origin.batch([origin.db.select().from(pages).where(eq(pages.id, id))]);
			return row
				? { status: 200 as const, body: row, tags: [`page:${id}`] }
				: { status: 404 as const, body: { missing: id }, tags: [`page:${id}`] };
		}),
	);
	async function request(path: string, headers: Record<string, string> = {}) {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request(`http://pages.test${path}`, { headers }), env, ctx);
		await waitOnExecutionContext(ctx);
		return res;
	}
	return { cache, request, preset };
}

/** The headers of an answer, without the ones that move with time. */
function stableHeaders(res: Response): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [name, value] of res.headers) {
		if (name === "server-timing") continue;
		out[name] = value.replace(/ttl=\d+/, "ttl=N").replace(/max-age=\d+/g, "max-age=N");
	}
	return out;
}

beforeAll(async () => {
	await env.DB.exec("CREATE TABLE hit_pages (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
	await env.DB.exec("INSERT INTO hit_pages (id, text) VALUES (1, 'one'), (2, 'two')");
});

describe("a memory hit", () => {
	it("answers with the same headers and body as one found by the full read path", async () => {
		const p = pagesApp("hit-same");
		const miss = await p.request("/pages/1");
		expect(miss.headers.get("Cache-Status")).toMatch(/tiercache-memory; fwd=miss/);
		// The second read finds the entry in memory but has not validated it against this view yet: the full path.
		const full = await p.request("/pages/1");
		const fast = await p.request("/pages/1");
		expect(full.headers.get("Cache-Status")).toMatch(/^tiercache-memory; hit; ttl=\d+$/);
		expect(stableHeaders(fast)).toEqual(stableHeaders(full));
		expect(await fast.json()).toEqual(await full.json());
		expect(fast.headers.get("Server-Timing")).toMatch(/^memory;dur=[\d.]+$/);
		for (const name of ["ETag", "CDN-Cache-Control", "Cloudflare-CDN-Cache-Control", "Cache-Tag", "Surrogate-Key"]) {
			expect(fast.headers.get(name)).toBeTruthy();
		}
		expect(p.cache.stats.tiers.memory.hits).toBe(2);
		expect(p.cache.stats.origin.loads).toBe(1);
	});

	it("answers 304 to a matching If-None-Match", async () => {
		const p = pagesApp("hit-304");
		const first = await p.request("/pages/2");
		await p.request("/pages/2");
		const etag = first.headers.get("ETag") ?? "";
		const res = await p.request("/pages/2", { "If-None-Match": etag });
		expect(res.status).toBe(304);
		expect(res.headers.get("ETag")).toBe(etag);
		expect(res.headers.get("Content-Type")).toBeNull();
		expect(p.cache.stats.notModified).toBe(1);
	});

	it("is not served after an invalidation of its tags", async () => {
		const p = pagesApp("hit-invalidated");
		await p.request("/pages/1");
		await p.request("/pages/1");
		await p.cache.invalidateTags(env, ["page:1"]);
		const res = await p.request("/pages/1");
		expect(res.headers.get("Cache-Status")).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
		expect(p.cache.stats.origin.loads).toBe(2);
	});

	it("gives way to a bypass when the request or a handler makes the answer uncacheable", async () => {
		const p = pagesApp("hit-bypass");
		await p.request("/pages/1");
		await p.request("/pages/1");
		const withCookie = await p.request("/pages/1", { Cookie: "a=b" });
		expect(withCookie.headers.get("Cache-Status")).toMatch(/fwd=bypass/);
		p.preset.header = ["Set-Cookie", "s=1"];
		const withSetCookie = await p.request("/pages/1");
		expect(withSetCookie.headers.get("Cache-Status")).toMatch(/fwd=bypass/);
		expect(withSetCookie.headers.get("Set-Cookie")).toBe("s=1");
		expect(withSetCookie.headers.get("Cache-Control")).toBe("private, no-store");
		p.preset.header = ["Cache-Control", "private"];
		expect((await p.request("/pages/1")).headers.get("Cache-Status")).toMatch(/fwd=bypass/);
		p.preset.header = undefined;
		expect((await p.request("/pages/1")).headers.get("Cache-Status")).toMatch(/tiercache-memory; hit/);
		expect(p.cache.stats.origin.loads).toBe(4);
	});

	it("carries the headers a middleware set before it, except the ones the cache sets itself", async () => {
		const p = pagesApp("hit-preset");
		p.preset.header = ["X-Request-Id", "r-1"];
		const miss = await p.request("/pages/2");
		const full = await p.request("/pages/2");
		const fast = await p.request("/pages/2");
		const notModified = await p.request("/pages/2", { "If-None-Match": fast.headers.get("ETag") ?? "" });
		expect(fast.headers.get("Cache-Status")).toMatch(/^tiercache-memory; hit; ttl=\d+$/);
		expect(notModified.status).toBe(304);
		for (const res of [miss, full, fast, notModified]) expect(res.headers.get("X-Request-Id")).toBe("r-1");
		// A header the cache sets is the cache's, whatever was set before.
		p.preset.header = ["Content-Type", "text/plain"];
		const typed = await p.request("/pages/2");
		expect(typed.headers.get("Content-Type")).toBe("application/json");
		expect(typed.headers.get("X-Request-Id")).toBeNull();
		expect(notModified.headers.get("Content-Type")).toBeNull();
		expect(p.cache.stats.origin.loads).toBe(1);
	});

	it("says the freshness left at each second, and each answer's headers are its own", async () => {
		let at = Math.ceil(Date.now() / 1000) * 1000; // stored on a whole second: 60 s left
		const p = pagesApp("hit-seconds", undefined, () => at);
		p.preset.header = ["X-Request-Id", "r-1"];
		await p.request("/pages/1");
		await p.request("/pages/1");
		const first = await p.request("/pages/1");
		const ttl = 60;
		expect(first.headers.get("Cache-Status")).toBe(`tiercache-memory; hit; ttl=${ttl}`);
		first.headers.set("Cache-Tag", "changed");
		p.preset.header = ["X-Request-Id", "r-2"];
		const same = await p.request("/pages/1");
		expect(same.headers.get("Cache-Status")).toBe(`tiercache-memory; hit; ttl=${ttl}`);
		expect(same.headers.get("Cache-Tag")).toBe("page:1");
		expect(same.headers.get("X-Request-Id")).toBe("r-2");
		at += 400;
		// Knowledge of the location's announcements is now 400 ms old: this read waits for a look, the next need not.
		expect((await p.request("/pages/1")).headers.get("Server-Timing")).toMatch(/^clock;dur=[\d.]+, memory;dur=/);
		const later = await p.request("/pages/1");
		expect(later.headers.get("Cache-Status")).toBe(`tiercache-memory; hit; ttl=${ttl - 1}`);
		expect(later.headers.get("CDN-Cache-Control")).toMatch(new RegExp(`^max-age=${ttl - 1},`));
		expect(later.headers.get("Server-Timing")).toBe("memory;dur=0");
		expect(p.cache.stats.tiers.memory.hits).toBe(5);
		expect(p.cache.stats.origin.loads).toBe(1);
	});

	it("shares one entry between URLs whose inputs are the same, in any order", async () => {
		const p = pagesApp("hit-key-memo");
		await p.request("/pages/1?b=2&a=1");
		const other = await p.request("/pages/1?a=1&b=2");
		expect(other.headers.get("Cache-Status")).toMatch(/tiercache-memory; hit/);
		const different = await p.request("/pages/1?a=2&b=2");
		expect(different.headers.get("Cache-Status")).toMatch(/tiercache-memory; fwd=miss/);
		expect(p.cache.stats.origin.loads).toBe(2);
	});

	it("uses a version given as a promise once it has settled, and a new version's keys", async () => {
		let version = Promise.resolve("v1");
		const p = pagesApp("hit-version", () => version);
		await p.request("/pages/2");
		expect((await p.request("/pages/2")).headers.get("Cache-Status")).toMatch(/tiercache-memory; hit/);
		version = Promise.resolve("v2");
		expect((await p.request("/pages/2")).headers.get("Cache-Status")).toMatch(/tiercache-memory; fwd=miss/);
		expect(p.cache.stats.origin.loads).toBe(2);
	});
});
