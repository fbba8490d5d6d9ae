import { beforeEach, describe, expect, it } from "vitest";
import { ADMIN, handleAllBumps, json, seedNotes, testApp } from "./helpers";

beforeEach(async () => {
	await seedNotes();
	await handleAllBumps();
});

type Snapshot = {
	requests: number;
	origin: { loads: number; byCause: Record<string, number>; byRoute: Record<string, number> };
	tiers: Record<"memory" | "colo" | "kv", { hits: number; misses: number; invalidated: number }>;
	purges: { invalidations: number };
};

describe("GET /v1/cache/stats", () => {
	it("counts this isolate's loads, by cause and route, and its hits per tier", async () => {
		const { request, write } = testApp();
		await request("/v1/notes/1"); // cold: loaded
		await request("/v1/notes/1"); // memory hit
		await request("/v1/notes"); // cold: loaded
		await write("PATCH", "/v1/notes/1", { body: "Revised." });
		await request("/v1/notes/1"); // invalidated: loaded again
		const stats = await json<Snapshot>(await request("/v1/cache/stats", { headers: ADMIN }));
		expect(stats.requests).toBe(4);
		expect(stats.origin.loads).toBe(3);
		expect(stats.origin.byCause).toMatchObject({ cold: 2, invalidated: 1 });
		expect(stats.origin.byRoute).toEqual({ note: 2, notes: 1 });
		expect(stats.tiers.memory).toMatchObject({ hits: 1, invalidated: 1 });
		expect(stats.purges.invalidations).toBe(1);
	});

	it("is for admins only, and never cached", async () => {
		const { request } = testApp();
		expect((await request("/v1/cache/stats")).status).toBe(401);
		const res = await request("/v1/cache/stats", { headers: ADMIN });
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
	});
});
