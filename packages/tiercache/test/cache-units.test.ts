import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Entry, entryBytes, etagOf, parseEntry } from "../src/entry.js";
import {
	CACHE_TAG_HEADER_LIMIT,
	cacheStatus,
	coarseTag,
	edgePurgeTags,
	edgeTags,
	etagMatches,
} from "../src/headers.js";
import { buildKey } from "../src/key.js";
import { KV_LIMITS, KvCache, kvKey } from "../src/kv-cache.js";
import { MemoryLru } from "../src/memory-lru.js";
import { DEFAULT_POLICY, definePolicy } from "../src/policy.js";

const entry = (body: string, extra: Partial<Entry> = {}): Entry => ({
	status: 200,
	body,
	etag: '"e"',
	tags: ["t:1"],
	readSeq: 1,
	storedAt: 0,
	ttl: 60,
	staleWhileRevalidate: 30,
	staleIfError: 300,
	loadMs: 5,
	...extra,
});

describe("etagOf", () => {
	it("is 64 bits of the body, the same for the same body and different for every near variant", () => {
		const body = JSON.stringify({ data: { id: 7, name: "Chef knife", priceCents: 4999 } });
		expect(etagOf(body)).toMatch(/^"[0-9a-f]{16}"$/);
		expect(etagOf(body)).toBe(etagOf(`${body}`));
		// Every one-character change, swap of neighbours and truncation: as many tags as distinct bodies.
		const bodies = new Set([body]);
		for (let i = 0; i < body.length; i++) {
			bodies.add(body.slice(0, i) + String.fromCharCode(body.charCodeAt(i) ^ 1) + body.slice(i + 1));
			bodies.add(body.slice(0, i) + body.slice(i + 1, i + 2) + body.slice(i, i + 1) + body.slice(i + 2));
			bodies.add(body.slice(0, i));
		}
		expect(bodies.size).toBeGreaterThan(body.length * 2);
		expect(new Set([...bodies].map(etagOf)).size).toBe(bodies.size);
		expect(etagOf("")).not.toBe(etagOf(" "));
	});
});

describe("MemoryLru", () => {
	it("stays within its byte bound, evicting the least recently used first", () => {
		const lru = new MemoryLru(2_000);
		const a = entry("a".repeat(300));
		const c = entry("c".repeat(300));
		lru.set("a", a);
		lru.set("b", entry("b".repeat(300)));
		lru.get("a"); // a is now more recent than b
		lru.set("c", c);
		expect(lru.bytes).toBeLessThanOrEqual(2_000);
		expect(lru.get("b")).toBeUndefined();
		// The entries kept are the very ones stored under their keys, not merely something.
		expect(lru.get("a")).toBe(a);
		expect(lru.get("a")?.body).toBe("a".repeat(300));
		expect(lru.get("c")).toBe(c);
	});

	it("refuses an entry larger than the whole bound and keeps its accounting exact", () => {
		const lru = new MemoryLru(1_000);
		expect(lru.set("big", entry("x".repeat(1_000)))).toBe(false);
		lru.set("a", entry("small"));
		const bytes = lru.bytes;
		lru.set("a", entry("small"));
		expect(lru.bytes).toBe(bytes);
		lru.delete("a");
		expect(lru.bytes).toBe(0);
		expect(lru.size).toBe(0);
	});

	it("without evicting, takes an entry only where it has room, and may replace the key's own", () => {
		const lru = new MemoryLru(3_000);
		const a = entry("a".repeat(500));
		const b = entry("b".repeat(500));
		lru.set("a", a);
		lru.set("b", b);
		const room = 3_000 - lru.bytes;
		// The largest body for key "c" that fits beside the others, found from the accounting itself.
		let n = 0;
		while (entryBytes("c", entry("c".repeat(n + 1))) <= room) n++;
		expect(n).toBeGreaterThan(0);
		// One character more does not fit: refused, and nothing is evicted for it.
		expect(lru.set("c", entry("c".repeat(n + 1)), false)).toBe(false);
		expect(lru.size).toBe(2);
		expect(lru.evictions).toBe(0);
		const c = entry("c".repeat(n));
		expect(lru.set("c", c, false)).toBe(true);
		expect(lru.bytes).toBe(3_000);
		expect([lru.peek("a"), lru.peek("b"), lru.peek("c")]).toEqual([a, b, c]);
		// Full: a new key is refused; the key's own replacement of the same size is taken.
		expect(lru.set("d", entry("d"), false)).toBe(false);
		expect(lru.peek("d")).toBeUndefined();
		const a2 = entry("A".repeat(500));
		expect(lru.set("a", a2, false)).toBe(true);
		expect(lru.peek("a")).toBe(a2);
		// A larger replacement that does not fit leaves the key's entry as it was.
		expect(lru.set("a", entry("A".repeat(501)), false)).toBe(false);
		expect(lru.peek("a")).toBe(a2);
		expect(lru.evictions).toBe(0);
		// With eviction (the default) the same new key is taken, pushing out the least recently used.
		const d = entry("d");
		expect(lru.set("d", d)).toBe(true);
		expect(lru.peek("d")).toBe(d);
		expect(lru.evictions).toBe(1);
		expect(lru.peek("b")).toBeUndefined();
		expect(lru.bytes).toBeLessThanOrEqual(3_000);
	});
});

describe("buildKey", () => {
	it("sorts and percent-encodes parameters, and leaves out what is undefined", () => {
		const key = buildKey({
			version: "v1",
			route: "products",
			params: {},
			query: { sort: "-price", category: "a b", page: 1, limit: 20, extra: undefined },
		});
		expect(key).toBe("v1/products?q.category=a%20b&q.limit=20&q.page=1&q.sort=-price");
	});

	it("keeps path parameters apart from query parameters and can restrict the query", () => {
		expect(buildKey({ version: "v", route: "r", params: { id: 1 }, query: { id: 2 } })).toBe("v/r?p.id=1&q.id=2");
		expect(buildKey({ version: "v", route: "r", params: {}, query: { a: 1, b: 2 }, keyQuery: ["b"] })).toBe(
			"v/r?q.b=2",
		);
	});
});

describe("CDN headers", () => {
	it("lists Cache-Status members from the origin side to the client side", () => {
		expect(
			cacheStatus([
				{ tier: "memory", kind: "miss", stored: true },
				{ tier: "colo", kind: "hit", ttl: 12 },
			]),
		).toBe("tiercache-colo; hit; ttl=12, tiercache-memory; fwd=miss; stored");
	});

	it("keeps every tag while they fit in 16 KB, else coarser tags that edge purges also send", () => {
		const few = ["products", "product:1"];
		expect(edgeTags(few)).toEqual({ tags: few, coarsened: false });
		const many = ["products", ...Array.from({ length: 3_000 }, (_, i) => `product:${i}`)];
		const { tags, coarsened } = edgeTags(many);
		expect(coarsened).toBe(true);
		expect(tags).toEqual(["products", "product"]);
		expect(tags.join(",").length).toBeLessThanOrEqual(CACHE_TAG_HEADER_LIMIT);
		// Whatever coarse tag stands in the header, purging a fine tag reaches it.
		expect(edgePurgeTags(["product:42"])).toEqual(["product:42", "product", "tiercache:all"]);
		expect(edgePurgeTags(["reviews:product:7"])).toEqual([
			"reviews:product:7",
			"reviews:product",
			"reviews",
			"tiercache:all",
		]);
		expect(coarseTag("products")).toBe("products");
	});

	it("matches If-None-Match by weak comparison, lists and *", () => {
		expect(etagMatches('"a"', '"a"')).toBe(true);
		expect(etagMatches('W/"a"', '"a"')).toBe(true);
		expect(etagMatches('"b", "a"', '"a"')).toBe(true);
		expect(etagMatches("*", '"a"')).toBe(true);
		expect(etagMatches('"b"', '"a"')).toBe(false);
		expect(etagMatches(undefined, '"a"')).toBe(false);
	});
});

describe("definePolicy", () => {
	it("fills in the defaults and rejects nonsense", () => {
		expect(definePolicy({ name: "x" })).toEqual({ ...DEFAULT_POLICY, name: "x" });
		expect(DEFAULT_POLICY.ttl).toBeGreaterThanOrEqual(30);
		expect(() => definePolicy({ name: "Bad Name" })).toThrow(/name/);
		expect(() => definePolicy({ name: "x", ttl: 0 })).toThrow(/ttl/);
		expect(() => definePolicy({ name: "x", staleIfError: 1.5 })).toThrow(/staleIfError/);
		expect(() => definePolicy({ name: "x", tiers: ["disk" as never] })).toThrow(/tier/);
	});
});

describe("entries read back from a store", () => {
	it("are checked: anything malformed is a miss", () => {
		const stored = entry('{"data":1}', { status: 404, tags: ["a", "b:2"], readSeq: 42 });
		// A well-formed entry comes back whole, every field as stored (a round trip through JSON, as a store makes).
		expect(parseEntry(JSON.parse(JSON.stringify(stored)))).toEqual(JSON.parse(JSON.stringify(stored)));
		expect(parseEntry(entry("{}"))).toEqual(entry("{}"));
		expect(parseEntry(null)).toBeUndefined();
		expect(parseEntry({ ...entry("{}"), status: 500 })).toBeUndefined();
		expect(parseEntry({ ...entry("{}"), tags: [1] })).toBeUndefined();
		expect(parseEntry({ ...entry("{}"), readSeq: "1" })).toBeUndefined();
	});
});

describe("KV discipline", () => {
	it("writes a key at most once a second and with expirationTtl >= 60 s", async () => {
		const kv = new KvCache(env.CACHE_KV, new Map());
		const short = entry("{}", { ttl: 1, staleWhileRevalidate: 0, staleIfError: 0 });
		expect(await kv.set("k1", short, 10_000)).toBe("written");
		expect(await kv.set("k1", short, 10_500)).toBe("too-soon");
		expect(await kv.set("k1", short, 11_000)).toBe("written");
		const listed = await env.CACHE_KV.list({ prefix: "e:k1" });
		expect(listed.keys[0]?.expiration).toBeGreaterThanOrEqual(
			Math.floor(Date.now() / 1000) + KV_LIMITS.minExpirationTtl - 1,
		);
	});

	it("checks the value size before writing", async () => {
		const kv = new KvCache(env.CACHE_KV, new Map(), 1024);
		expect(await kv.set("big", entry("x".repeat(2048)), 0)).toBe("too-large");
		expect(await env.CACHE_KV.get("e:big")).toBeNull();
	});

	it("hashes keys that would pass KV's 512-byte limit", async () => {
		expect(await kvKey("short")).toBe("e:short");
		expect(await kvKey("k".repeat(600))).toMatch(/^e:#[0-9a-f]{64}$/);
	});
});

describe("HotKeys", () => {
	it("keeps the most requested keys in bounded memory and finds them by tag", async () => {
		const { HotKeys } = await import("../src/hot-keys.js");
		const hot = new HotKeys(4);
		for (let i = 0; i < 10; i++) hot.record("a", "/a", ["product:1"]);
		for (let i = 0; i < 5; i++) hot.record("b", "/b", ["product:2", "products"]);
		for (const k of ["c", "d", "e", "f", "g"]) hot.record(k, `/${k}`, ["x"]);
		expect(hot.size).toBeLessThanOrEqual(4);
		expect(hot.hottest(undefined, 2).map((h) => h.key)).toEqual(["a", "b"]);
		expect(hot.hottest(new Set(["products"]), 10).map((h) => h.path)).toEqual(["/b"]);
		expect(hot.hottest(new Set(["nothing"]), 10)).toEqual([]);
	});
});
