import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { REWARM_HOST } from "tiercache";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";

// The Worker's handler (`app.serve`): the app behind the engine's front door,
// which answers a memory hit for a URL the app answered from memory before,
// without running the app. Cross-isolate freshness through it is covered by
// the randomized histories (history-check), whose reads go through it at random.

beforeAll(async () => {
	await seedSmallCatalog();
});
afterEach(() => vi.restoreAllMocks());

const front = (a: ReturnType<typeof testApp>) => a.cache.stats.served.front;
/**
 * Reads a URL until the front door knows it: a load, then the app's memory
 * hit (its fast path tells the front door the URL). Returns the hit.
 */
async function warm(a: ReturnType<typeof testApp>, path: string, send: (path: string) => Promise<Response> = a.serve) {
	await send(path);
	return send(path);
}
/** Every header but the request id, new for every answer, and Server-Timing, whose duration may differ. */
const headersOf = (res: Response) =>
	[...res.headers].filter(([name]) => name !== "x-request-id" && name !== "server-timing");

describe("the front door", () => {
	it("answers a URL the app answered from memory, as the app's memory hit would, without running the app", async () => {
		const a = testApp();
		const load = await a.serve("/v1/products/1");
		expect(cacheStatus(load)).toMatch(/fwd=miss/);
		const inApp = await a.serve("/v1/products/1");
		expect(cacheStatus(inApp)).toMatch(/^tiercache-memory; hit/);
		expect(front(a)).toBe(0);
		const lines: string[] = [];
		vi.spyOn(console, "log").mockImplementation((line: unknown) => {
			lines.push(String(line));
		});
		const served = await a.serve(
			"/v1/products/1",
			{ headers: { "X-Request-Id": "front-door-1" } },
			{ LOG_REQUESTS: "on" },
		);
		expect(front(a)).toBe(1);
		expect(a.cache.stats.tiers.memory.hits).toBe(2);
		expect(a.cache.stats.requests).toBe(3);
		expect(served.status).toBe(200);
		expect(await served.text()).toBe(await inApp.text());
		expect(headersOf(served)).toEqual(headersOf(inApp));
		expect(served.headers.get("Server-Timing")).toMatch(/^memory;dur=/);
		// What the app's middleware adds, added by `decorate`: the request id, nosniff, the log line.
		expect(served.headers.get("X-Request-Id")).toBe("front-door-1");
		expect(served.headers.get("X-Content-Type-Options")).toBe("nosniff");
		expect(lines.map((l) => JSON.parse(l))).toEqual([
			{
				level: "info",
				requestId: "front-door-1",
				method: "GET",
				route: "/v1/products/:id",
				status: 200,
				tier: "memory",
				ms: 0,
			},
		]);
		// A request id that is no plausible one is replaced, as the app's middleware does.
		const odd = await a.serve("/v1/products/1", { headers: { "X-Request-Id": "<script>" } });
		expect(front(a)).toBe(2);
		expect(odd.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
	});

	it("HEAD: the same status and headers without the body; If-None-Match: 304 without a body", async () => {
		const a = testApp();
		const get = await warm(a, "/v1/products/2");
		const head = await a.serve("/v1/products/2", { method: "HEAD" });
		expect(front(a)).toBe(1);
		expect(head.status).toBe(200);
		expect(await head.text()).toBe("");
		expect(headersOf(head)).toEqual(headersOf(get));
		const etag = get.headers.get("ETag") ?? "";
		const notModified = await a.serve("/v1/products/2", { headers: { "If-None-Match": etag } });
		expect(front(a)).toBe(2);
		expect(notModified.status).toBe(304);
		expect(await notModified.text()).toBe("");
		expect(notModified.headers.get("ETag")).toBe(etag);
		expect(notModified.headers.get("Content-Type")).toBeNull();
	});

	it("leaves to the app writes, Authorization and Cookie, and never answers from an entry a write overtook", async () => {
		const a = testApp();
		await warm(a, "/v1/products/3");
		await a.serve("/v1/products/3");
		expect(front(a)).toBe(1);
		const cookie = await a.serve("/v1/products/3", { headers: { Cookie: "session=1" } });
		const bearer = await a.serve("/v1/products/3", { headers: { Authorization: "Bearer someone" } });
		for (const res of [cookie, bearer]) expect(cacheStatus(res)).toMatch(/fwd=bypass/);
		expect(front(a)).toBe(1);
		const write = await a.serve("/v1/products/3", {
			method: "PATCH",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ name: "Renamed at the front" }),
		});
		expect(write.status).toBe(200);
		const after = await a.serve("/v1/products/3");
		expect(((await after.json()) as { data: { name: string } }).data.name).toBe("Renamed at the front");
		// The URL is answered at the front again, with the new entry (which the write re-warmed).
		const before = front(a);
		const again = await a.serve("/v1/products/3");
		expect(front(a)).toBe(before + 1);
		expect(((await again.json()) as { data: { name: string } }).data.name).toBe("Renamed at the front");
	});

	it("after an invalidation elsewhere, answers an entry the view still finds valid; never one the invalidation overtook", async () => {
		const a = testApp();
		await warm(a, "/v1/products/1");
		await warm(a, "/v1/products/2");
		await a.serve("/v1/products/1");
		expect(front(a)).toBe(1);
		// An invalidation of a tag neither entry depends on moves the view on.
		const generation = a.cache.clock.view.generation;
		await a.cache.invalidateTags(env, ["unrelated:front-door"]);
		expect(a.cache.clock.view.generation).toBeGreaterThan(generation);
		await a.serve("/v1/categories"); // the clock looks at the location's announcements again
		const still = await a.serve("/v1/products/1");
		expect(front(a)).toBe(2);
		expect(cacheStatus(still)).toMatch(/^tiercache-memory; hit/);
		// Product 2's own tag: its entry is never answered again, at the front or in the app.
		await a.cache.invalidateTags(env, ["product:2"]);
		const reloaded = await a.serve("/v1/products/2");
		expect(front(a)).toBe(2);
		expect(cacheStatus(reloaded)).toMatch(/tiercache-memory; fwd=miss; detail=invalidated/);
	});

	it("knows URLs, not keys: another spelling of the same query is the app's once; invalid input is always the app's", async () => {
		const a = testApp();
		await warm(a, "/v1/products?limit=2&page=1");
		expect(front(a)).toBe(0);
		await a.serve("/v1/products?limit=2&page=1");
		expect(front(a)).toBe(1);
		// The same key, another URL: the app's memory hit, then the front door's.
		const swapped = await a.serve("/v1/products?page=1&limit=2");
		expect(cacheStatus(swapped)).toMatch(/^tiercache-memory; hit/);
		expect(front(a)).toBe(1);
		await a.serve("/v1/products?page=1&limit=2");
		expect(front(a)).toBe(2);
		for (let i = 0; i < 3; i++) expect((await a.serve("/v1/products?limit=abc")).status).toBe(400);
		expect(front(a)).toBe(2);
	});

	it("leaves an early refresh that falls due to the app, which makes it", async () => {
		// The front door draws the refresh (0.9999999: due); the app's own draw (0) alone would not.
		const draws = [0.9999999, 0];
		const a = testApp({ random: () => draws.shift() ?? 0 });
		await warm(a, "/v1/products/1");
		expect(front(a)).toBe(0);
		draws.length = 0;
		a.advance(120_000 - 5); // 5 ms before the entry expires
		await a.serve("/v1/categories"); // brings the clock's view up to the new time
		draws.push(0);
		await a.serve("/v1/products/1"); // no refresh drawn: the entry is checked against the new view
		const before = front(a);
		draws.push(0.9999999, 0);
		const res = await a.serve("/v1/products/1");
		expect(draws).toEqual([0]); // one draw, the front door's: the app made the refresh it handed over
		expect(cacheStatus(res)).toMatch(/^tiercache-memory; hit/);
		expect(front(a)).toBe(before);
		expect(a.cache.stats.origin.earlyRefreshes).toBe(1);
	});

	it("bypass, maxUrls and a new key version", async () => {
		let version = "front-v1";
		const a = testApp({ version: () => version });
		const serve = a.cache.front((request, e, ctx) => a.app.fetch(request, e, ctx), {
			bypass: (request) => request.headers.has("X-Api-Key"),
			maxUrls: 1,
		});
		const send = async (path: string, init: RequestInit = {}) => {
			const ctx = createExecutionContext();
			const res = await serve(new Request(`http://tiercache.test${path}`, init), env, ctx);
			await waitOnExecutionContext(ctx);
			return res;
		};
		await warm(a, "/v1/products/1", send);
		await send("/v1/products/1");
		expect(front(a)).toBe(1);
		await send("/v1/products/1", { headers: { "X-Api-Key": "k" } });
		expect(front(a)).toBe(1);
		// A second URL makes the first one forgotten (one URL at most), and the first one the second.
		await warm(a, "/v1/products/2", send);
		await send("/v1/products/1");
		expect(front(a)).toBe(1);
		await send("/v1/products/2");
		expect(front(a)).toBe(1);
		await send("/v1/products/2");
		expect(front(a)).toBe(2);
		// A new version: no answer under the old one.
		version = "front-v2";
		const load = await send("/v1/products/2");
		expect(cacheStatus(load)).toMatch(/fwd=miss/);
		expect(front(a)).toBe(2);
		expect(() => a.cache.front(a.app.fetch, { maxUrls: 0 })).toThrow(/maxUrls must be a positive integer/);
	});

	it("forgets the least recently used URL first", async () => {
		const a = testApp();
		const serve = a.cache.front((request, e, ctx) => a.app.fetch(request, e, ctx), { maxUrls: 2 });
		const send = async (path: string) => {
			const ctx = createExecutionContext();
			const res = await serve(new Request(`http://tiercache.test${path}`), env, ctx);
			await waitOnExecutionContext(ctx);
			return res;
		};
		await warm(a, "/v1/products/1", send);
		await warm(a, "/v1/products/2", send);
		await send("/v1/products/1"); // answered at the front: product 1 is now the most recently used
		expect(front(a)).toBe(1);
		await warm(a, "/v1/products/3", send); // makes room: product 2 goes
		await send("/v1/products/1");
		expect(front(a)).toBe(2);
		await send("/v1/products/2");
		expect(front(a)).toBe(2);
	});

	it("a decorate that throws, or a re-warm request: the app answers", async () => {
		const a = testApp();
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		const serve = a.cache.front((request, e, ctx) => a.app.fetch(request, e, ctx), {
			decorate: () => {
				throw new Error("decorate failed");
			},
		});
		const send = async (url: string) => {
			const ctx = createExecutionContext();
			const res = await serve(new Request(url), env, ctx);
			await waitOnExecutionContext(ctx);
			return res;
		};
		await warm(a, "/v1/products/1", (path) => send(`http://tiercache.test${path}`));
		const res = await send("http://tiercache.test/v1/products/1");
		expect(res.status).toBe(200);
		expect(cacheStatus(res)).toMatch(/^tiercache-memory; hit/);
		expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/); // the app's own middleware
		expect(warn.mock.calls.map(String).join("\n")).toContain("decorate failed");
		// The engine's own re-warm request for the same path goes to the app.
		const stats = { ...a.cache.stats.served };
		await send(`https://${REWARM_HOST}/v1/products/1`);
		expect(a.cache.stats.served.front).toBe(stats.front);
	});
});
