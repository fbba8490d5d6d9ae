import { exports } from "cloudflare:workers";
import { hc } from "hono/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppType } from "../src/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";

const worker = exports.default as unknown as Fetcher;
const client = hc<AppType>("http://tiercache.test", {
	fetch: (input: RequestInfo | URL, init?: RequestInit) => worker.fetch(input, init),
});

beforeAll(async () => {
	await seedSmallCatalog();
});

describe("a typed client (hono/client) against the app", () => {
	it("reads a product with typed params and a typed body", async () => {
		const res = await client.v1.products[":id"].$get({ param: { id: "1" }, query: {} });
		expect(res.status).toBe(200);
		if (res.status !== 200) return;
		const body = await res.json();
		const name: string = body.data.name;
		const average: number = body.data.rating.average;
		expect(name).toBe("Cast iron pan");
		expect(typeof average).toBe("number");
	});

	it("lists with a typed query and gets the 404 branch typed too", async () => {
		const list = await client.v1.products.$get({ query: { category: "kitchen", sort: "-price", limit: "1" } });
		if (list.status !== 200) throw new Error(`expected 200, got ${list.status}`);
		const page = await list.json();
		expect(page.data.map((p) => p.id)).toEqual([2]);
		expect(page.next).toBe(2);
		const missing = await client.v1.products[":id"].$get({ param: { id: "424242" }, query: {} });
		expect(missing.status).toBe(404);
		if (missing.status === 404) expect((await missing.json()).error.code).toBe("not_found");
	});

	it("writes through an admin route with a typed body", async () => {
		const res = await client.v1.categories.$post({ json: { slug: "typed", name: "Typed" } }, { headers: ADMIN });
		expect(res.status).toBe(201);
		if (res.status === 201) expect((await res.json()).data.slug).toBe("typed");
	});

	it("reads the ranking", async () => {
		const res = await client.v1["top-products"].$get({ query: { limit: "2" } });
		if (res.status !== 200) throw new Error(`expected 200, got ${res.status}`);
		const body = await res.json();
		expect(body.limit).toBe(2);
		expect(body.prior.weight).toBe(10);
	});
});
