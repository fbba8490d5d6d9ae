import { afterEach, describe, expect, it, vi } from "vitest";
import { testApp } from "./helpers/app";
import { seedSmallCatalog } from "./helpers/fixtures";

afterEach(() => vi.restoreAllMocks());

describe("request logs", () => {
	it("write one JSON line per request with the route, status, tier and origin time, and never a token", async () => {
		await seedSmallCatalog();
		const lines: string[] = [];
		vi.spyOn(console, "log").mockImplementation((line: unknown) => {
			lines.push(String(line));
		});
		const a = testApp();
		const on = { LOG_REQUESTS: "on" };
		const patchStock = (stock: number) =>
			a.request(
				"/v1/products/1",
				{
					method: "PATCH",
					headers: { Authorization: "Bearer test-admin-token", "Content-Type": "application/json" },
					body: JSON.stringify({ stock }),
				},
				on,
			);
		await a.request("/v1/products/1?", {}, on);
		await a.request("/v1/products/1", {}, on);
		await patchStock(3);
		await a.request(
			"/v1/webhooks/purge",
			{
				method: "POST",
				headers: { "Content-Type": "application/json", "webhook-signature": "v1,secret-looking" },
				body: "{}",
			},
			on,
		);
		await a.request("/v1/products?category=kitchen", {}, on);
		await a.request("/v1/products?category=kitchen", {}, on);
		await patchStock(4);
		const logged = lines.map((l) => JSON.parse(l));
		// The second write re-warmed the listing it changed (read twice here): the engine's own request, marked.
		// (The product page was written through by the writes: no re-warm for it.)
		expect(logged).toHaveLength(8);
		const rewarms = logged.filter((entry) => entry.rewarm === true);
		expect(rewarms).toEqual([expect.objectContaining({ method: "GET", route: "/v1/products", tier: "origin" })]);
		logged.splice(logged.indexOf(rewarms[0]), 1);
		expect(logged[0]).toMatchObject({
			method: "GET",
			route: "/v1/products/:id",
			status: 200,
			tier: "origin",
			originMs: expect.any(Number),
		});
		expect(logged[1]).toMatchObject({ status: 200, tier: "memory" });
		expect(logged[1].originMs).toBeUndefined();
		expect(logged[2]).toMatchObject({ method: "PATCH", status: 200 });
		expect(logged[3]).toMatchObject({ status: 401 });
		for (const entry of logged) expect(entry.requestId).toMatch(/^[0-9a-f-]{36}$/);
		const all = lines.join("\n");
		expect(all).not.toContain("test-admin-token");
		expect(all).not.toContain("secret-looking");
	});
});
