import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { seedSmallCatalog } from "./helpers/fixtures";

// Web cache poisoning and deception, by class. The key is built only from
// what a route validated (packages/tiercache/src/key.ts); no handler reads a request
// header other than Authorization/Cookie (bypass) and If-None-Match (304,
// never stored). Each test: a victim's answer is fixed first, an attacker
// sends variants, the victim asks again and must get the same bytes.

beforeAll(async () => {
	await seedSmallCatalog();
});

async function victimAnswer(a: ReturnType<typeof testApp>, path: string) {
	const res = await a.request(path);
	return { status: res.status, body: await res.text(), etag: res.headers.get("ETag"), cacheStatus: cacheStatus(res) };
}

async function expectUnchangedFor(
	path: string,
	attacks: { url: string; init?: RequestInit }[],
	expectAttack?: (res: Response) => void | Promise<void>,
) {
	const a = testApp();
	const before = await victimAnswer(a, path);
	for (const attack of attacks) {
		const res = await a.app.request(attack.url, attack.init, env);
		if (expectAttack) await expectAttack(res);
	}
	// The victim, from another isolate at the same location and from this one.
	const after = await victimAnswer(a, path);
	expect(after.body).toBe(before.body);
	expect(after.etag).toBe(before.etag);
	expect(after.cacheStatus).toMatch(/memory; hit/);
	const other = testApp({ version: () => "other-isolate" });
	expect((await victimAnswer(other, path)).body).toBe(before.body);
}

describe("unkeyed request headers cannot change a cached answer", () => {
	it.each([
		[
			"forwarding and host override",
			{
				"X-Forwarded-Host": "evil.example",
				"X-Host": "evil.example",
				Forwarded: "host=evil.example",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-For": "6.6.6.6",
			},
		],
		["URL override", { "X-Original-URL": "/v1/products/2", "X-Rewrite-URL": "/v1/products/2" }],
		["method override", { "X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "PATCH", "X-Method-Override": "POST" }],
		[
			"content negotiation",
			{ Accept: "text/html", "Accept-Encoding": "gzip, br", "Accept-Language": "fr", "Content-Type": "text/html" },
		],
		[
			"conditional and range",
			{
				Range: "bytes=0-10",
				"If-Modified-Since": "Thu, 01 Jan 2099 00:00:00 GMT",
				"Cache-Control": "no-cache",
				Pragma: "no-cache",
			},
		],
	])("%s", async (_, headers) => {
		await expectUnchangedFor("/v1/products/1", [
			{ url: "http://tiercache.test/v1/products/1", init: { headers } },
			{ url: "http://evil.example/v1/products/1", init: { headers } },
		]);
	});

	it("a request to another Host shares the key but cannot put another body under it", async () => {
		const a = testApp();
		await a.app.request("http://evil.example/v1/products/3", {}, env);
		const res = await a.request("/v1/products/3");
		expect(cacheStatus(res)).toMatch(/memory; hit/);
		expect(await res.text()).not.toContain("evil");
	});
});

describe("parameter cloaking, duplicates and unknown parameters are rejected, never keyed apart", () => {
	it.each([
		"/v1/products?limit=5;sort=name",
		"/v1/products?limit=5&limit=6",
		"/v1/products?sort=name&SORT=price",
		"/v1/products?limit=5&utm_source=x",
		"/v1/products?limit=5%26sort%3Dname",
		"/v1/products?limit[]=5",
		"/v1/products?limit=%205",
	])("%s → 400, not stored", async (url) => {
		await expectUnchangedFor("/v1/products?limit=5", [{ url: `http://tiercache.test${url}` }], (res) => {
			expect(res.status).toBe(400);
			expect(res.headers.get("Cache-Control")).toBe("no-store");
		});
	});
});

describe("values the schema normalises share the entry of their normal form", () => {
	it("limit=05, spelled-out defaults and another parameter order", async () => {
		await expectUnchangedFor("/v1/products?limit=5&sort=name", [
			{ url: "http://tiercache.test/v1/products?limit=05&sort=name" },
			{ url: "http://tiercache.test/v1/products?sort=name&page=1&limit=5" },
		]);
	});
});

describe("path normalisation, suffixes and case", () => {
	it.each([
		["a trailing slash", "/v1/products/1/", 404],
		["an extension suffix", "/v1/products/1.css", 400],
		["a matrix suffix", "/v1/products/1;.js", 400],
		["a path suffix", "/v1/products/1/x.css", 404],
		["upper case", "/V1/PRODUCTS/1", 404],
		["a doubled slash", "//v1/products/1", 404],
		["an encoded slash", "/v1/products/1%2F..%2F2", 400],
	])("%s (%s) is an error, no-store, and leaves the real entry alone", async (_, url, status) => {
		await expectUnchangedFor("/v1/products/1", [{ url: `http://tiercache.test${url}` }], (res) => {
			expect(res.status).toBe(status);
			expect(res.headers.get("Cache-Control")).toBe("no-store");
		});
	});

	it("percent-encoding and dot segments that decode to the same id share its entry and its bytes", async () => {
		await expectUnchangedFor("/v1/products/1", [
			{ url: "http://tiercache.test/v1/products/%31" },
			{ url: "http://tiercache.test/v1/./products/1" },
			{ url: "http://tiercache.test/v1/x/../products/1" },
		]);
	});
});

describe("web cache deception", () => {
	it("an authenticated request is never stored, whatever the path looks like", async () => {
		const a = testApp();
		for (const path of ["/v1/products/1", "/v1/products/1.css", "/v1/_cache/stats", "/v1/_cache/stats.js"]) {
			const res = await a.request(path, { headers: { Authorization: "Bearer test-admin-token", Cookie: "s=1" } });
			const cacheControl = res.headers.get("Cache-Control") ?? "";
			expect(cacheControl).toMatch(/no-store/);
		}
		const { memory, colo, kv } = a.cache.stats.tiers;
		expect(memory.writes + colo.writes + kv.writes).toBe(0);
	});
});

describe("request bodies on reads", () => {
	it("a GET cannot carry a body into the Worker", () => {
		expect(() => new Request("http://tiercache.test/v1/products/1", { method: "GET", body: "{}" })).toThrow();
	});
});
