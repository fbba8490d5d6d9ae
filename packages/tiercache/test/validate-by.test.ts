import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type Entry, parseEntry } from "../src/entry.js";
import { createTierCache } from "../src/tier-cache.js";

type Bindings = { DB: D1Database; CACHE_KV: KVNamespace };

/** An app whose one route answers with these tags and `validateBy`. */
function taggedApp(name: string, validateBy: string[] | undefined) {
	const cache = createTierCache<{ Bindings: Bindings }, ReturnType<typeof drizzle>>({
		database: (e) => e.DB,
		kv: (e) => e.CACHE_KV,
		createDb: (d1) => drizzle(d1),
		version: () => name,
		cacheName: name,
	});
	const policy = cache.policy({ name: "thing", ttl: 60 });
	const app = new Hono<{ Bindings: Bindings }>();
	app.get("/thing", (c) =>
		cache.read(c, policy, async (origin) => {
			await origin.batch([origin.db.run("SELECT 1")]);
			return { status: 200 as const, body: { ok: true }, tags: ["thing:1", "group:1"], validateBy };
		}),
	);
	async function status() {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request("http://things.test/thing"), env, ctx);
		await waitOnExecutionContext(ctx);
		expect(res.headers.get("Cache-Tag")).toBe("thing:1,group:1");
		return res.headers.get("Cache-Status") ?? "";
	}
	return { cache, status };
}

describe("validateBy", () => {
	it("lets only its tags invalidate the entry; every tag still labels it", async () => {
		const t = taggedApp("validate-by-narrow", ["thing:1"]);
		await t.status();
		await t.cache.invalidateTags(env, ["group:1"]);
		expect(await t.status()).toMatch(/^tiercache-memory; hit/);
		await t.cache.invalidateTags(env, ["thing:1"]);
		expect(await t.status()).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
		expect(t.cache.stats.origin.loads).toBe(2);
	});

	it.each([
		["empty", []],
		["naming only tags the answer does not carry", ["elsewhere:1"]],
		["absent", undefined],
	] as [string, string[] | undefined][])("is ignored when %s: every tag invalidates", async (_, validateBy) => {
		const t = taggedApp(`validate-by-${validateBy?.join() ?? "none"}-${validateBy?.length}`, validateBy);
		await t.status();
		await t.cache.invalidateTags(env, ["group:1"]);
		expect(await t.status()).toMatch(/detail=invalidated/);
	});

	it("is checked when read back from a store", () => {
		const entry: Entry = {
			status: 200,
			body: "{}",
			etag: '"e"',
			tags: ["a:1", "b:1"],
			validateBy: ["a:1"],
			readSeq: 1,
			storedAt: 0,
			ttl: 60,
			staleWhileRevalidate: 0,
			staleIfError: 0,
			loadMs: 1,
		};
		expect(parseEntry(JSON.parse(JSON.stringify(entry)))).toEqual(entry);
		expect(parseEntry({ ...entry, validateBy: ["c:1"] })).toBeUndefined();
		expect(parseEntry({ ...entry, validateBy: "a:1" })).toBeUndefined();
		const { validateBy: _, ...older } = entry;
		expect(parseEntry(older)).toEqual(older);
	});
});
