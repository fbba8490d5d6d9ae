import { env } from "cloudflare:workers";
import type { PurgeTarget } from "tiercache";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";
import { signedWebhook } from "./helpers/webhook";

// The first edge purge attempt is made before a write's (or a webhook's)
// answer; the queue carries the retries and the delayed re-purge.

beforeAll(async () => {
	await seedSmallCatalog();
});

afterEach(() => {
	vi.restoreAllMocks();
});

const patch = (name: string) => ({
	method: "PATCH",
	headers: { ...ADMIN, "Content-Type": "application/json" },
	body: JSON.stringify({ name }),
});

function recorder() {
	const events: string[] = [];
	const queued: { target: PurgeTarget; purged: boolean }[] = [];
	return {
		events,
		queued,
		purge: async (_: unknown, target: PurgeTarget, { purged }: { purged: boolean }) => {
			events.push("queued");
			queued.push({ target, purged });
		},
	};
}

describe("the first edge purge attempt", () => {
	it("purges the edge before an admin write answers; the queue gets only the re-purge", async () => {
		const r = recorder();
		const edge: PurgeTarget[] = [];
		const a = testApp({
			purge: r.purge,
			purgeEdgeNow: async (_, target) => {
				r.events.push("edge");
				edge.push(target);
				return true;
			},
		});
		const res = await a.request("/v1/products/1", patch("Skillet"), {}, { wait: false });
		r.events.push("answered");
		expect(res.status).toBe(200);
		expect(res.headers.get("Server-Timing")).toMatch(/edge-purge;dur=[\d.]+;desc="purged"/);
		expect(r.events.indexOf("edge")).toBeLessThan(r.events.indexOf("answered"));
		expect((edge[0] as { tags: string[] }).tags).toEqual(expect.arrayContaining(["product:1", "product"]));
		await vi.waitFor(() => expect(r.queued).toHaveLength(1));
		expect(r.queued[0]?.purged).toBe(true);
		expect(a.cache.stats.purges.edgePurgedNow).toBe(1);
	});

	it("never fails the write when the edge purge fails: the queue purges with retries", async () => {
		const r = recorder();
		const a = testApp({
			purge: r.purge,
			purgeEdgeNow: async () => {
				throw new Error("edge unreachable");
			},
		});
		const res = await a.request("/v1/products/2", patch("Knife"));
		expect(res.status).toBe(200);
		expect(res.headers.get("Server-Timing")).toMatch(/edge-purge;dur=[\d.]+;desc="not-purged"/);
		expect(r.queued.map((q) => q.purged)).toEqual([false]);
		expect(a.cache.stats.purges.edgeErrors).toBe(1);
	});

	it("holds the answer at most the bound when the edge is slow", async () => {
		const r = recorder();
		let release!: (purged: boolean) => void;
		const a = testApp({
			purge: r.purge,
			edgePurgeTimeoutMs: 50,
			purgeEdgeNow: () => new Promise<boolean>((resolve) => (release = resolve)),
		});
		const started = performance.now();
		const res = await a.request("/v1/products/3", patch("Rake"), {}, { wait: false });
		expect(res.status).toBe(200);
		expect(performance.now() - started).toBeLessThan(1000);
		expect(res.headers.get("Server-Timing")).toMatch(/desc="not-purged"/);
		release(true);
		await vi.waitFor(() => expect(r.queued.map((q) => q.purged)).toEqual([false]));
	});

	it("is made for the webhook (reported in its Server-Timing) and by the cron's sweep", async () => {
		const r = recorder();
		let attempts = 0;
		const a = testApp({
			purge: r.purge,
			purgeEdgeNow: async () => {
				attempts++;
				return true;
			},
		});
		const res = await a.request("/v1/webhooks/purge", await signedWebhook('{"tags":["product:3"]}'));
		expect(res.status).toBe(202);
		expect(res.headers.get("Server-Timing")).toMatch(/edge-purge;dur=[\d.]+;desc="purged"/);
		expect(attempts).toBe(1);
		// A change behind the API's back: the sweep purges the edge itself, the queue gets the re-purge.
		await env.DB.prepare("UPDATE products SET stock = stock + 1 WHERE id = 3").run();
		expect((await a.cache.sweep(env)).tags).toBeGreaterThan(0);
		expect(attempts).toBe(2);
		expect(r.queued.at(-1)?.purged).toBe(true);
	});

	it("reaches a configured Varnish through the catalog's wiring, before the answer", async () => {
		const sent: { method: string; url: string; keys: string | null; token: string | null }[] = [];
		const realFetch = globalThis.fetch;
		vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
			const request = new Request(input, init);
			if (!request.url.startsWith("http://varnish.test/")) return realFetch(input, init);
			sent.push({
				method: request.method,
				url: request.url,
				keys: request.headers.get("xkey-purge"),
				token: request.headers.get("X-Purge-Token"),
			});
			return new Response("purged", { headers: { "X-Purged": "1" } });
		});
		const a = testApp();
		const bindings = { VARNISH_PURGE_URL: "http://varnish.test/", VARNISH_PURGE_TOKEN: "varnish-token" };
		const res = await a.request("/v1/categories/garden", { ...patch("Yard") }, bindings, { wait: false });
		expect(res.status).toBe(200);
		expect(sent).toHaveLength(1);
		expect(sent[0]).toMatchObject({ method: "PURGE", url: "http://varnish.test/", token: "varnish-token" });
		expect(sent[0]?.keys?.split(" ")).toEqual(expect.arrayContaining(["categories", "category:2"]));
		expect(res.headers.get("Server-Timing")).toMatch(/desc="purged"/);
	});
});
