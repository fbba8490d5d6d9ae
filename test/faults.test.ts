import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { PurgeTarget } from "tiercache";
import { consumePurgeBatch, retryDelaySeconds, zonePurger } from "tiercache/purge";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { seedSmallCatalog } from "./helpers/fixtures";

// Faults injected through the seams production uses: ORIGIN_DELAY_MS and the
// origin timeout, the engine's `kv` binding accessor, the purge API's base
// (a stub of the API), and the queue's own redelivery.

beforeAll(async () => {
	await seedSmallCatalog();
});

const development = { ENVIRONMENT: "development", ORIGIN_DELAY_MS: "300" };

/** A stand-in for the zone purge API that answers 503 while `down()` is true. */
function purgeApi(down: () => boolean) {
	const requests: unknown[] = [];
	const purger = zonePurger({
		zoneId: "z",
		apiToken: "t",
		baseUrl: "https://purge.stub",
		fetch: (async (_: RequestInfo | URL, init?: RequestInit) => {
			requests.push(JSON.parse(String(init?.body)));
			return down() ? new Response("unavailable", { status: 503 }) : Response.json({ success: true });
		}) as typeof fetch,
	});
	return { purger, requests };
}

function delivery(id: string, attempts: number, tags: string[]) {
	return createMessageBatch("tiercache-purge", [{ id, timestamp: new Date(), attempts, body: { tags } }]);
}

describe("a slow origin", () => {
	it("is a failing one: stale-if-error inside the window", async () => {
		const a = testApp({ originTimeoutMs: 100 });
		const body = await (await a.request("/v1/products/1")).text();
		a.advance(200_000); // past the ttl (120 s), inside stale-if-error (300 s)
		const res = await a.request("/v1/products/1", {}, development);
		expect(res.status).toBe(200);
		expect(await res.text()).toBe(body);
		expect(cacheStatus(res)).toMatch(/detail=stale-if-error/);
	});

	it("and 503 origin_unavailable with no-store outside it", async () => {
		const a = testApp({ originTimeoutMs: 100 });
		const res = await a.request("/v1/products/2", {}, development);
		expect(res.status).toBe(503);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		expect(await res.json()).toMatchObject({ error: { code: "origin_unavailable" } });
	});
});

describe("the purge queue failing while invalidating", () => {
	it("still commits the bump in D1, and the cron hands it to the purge once the queue is back", async () => {
		const down = testApp({
			purge: async () => {
				throw new Error("queue send failed: 503");
			},
		});
		await down.cache.invalidateTags(env, ["fault:queue"]);
		expect(down.cache.stats.purges.enqueueErrors).toBe(1);
		const row = await env.DB.prepare("SELECT seq, handled_seq FROM cache_tag_seq WHERE tag = 'fault:queue'").first<{
			seq: number;
			handled_seq: number;
		}>();
		expect(row?.seq).toBeGreaterThan(0);
		expect(row?.handled_seq).toBeLessThan(row?.seq ?? 0); // not handed over: left for the cron
		const purged: PurgeTarget[] = [];
		const up = testApp({ purge: async (_, target) => void purged.push(target) });
		await up.cache.sweep(env, 10_000);
		expect(purged.flatMap((t) => ("tags" in t ? t.tags : []))).toContain("fault:queue");
		const after = await env.DB.prepare("SELECT handled_seq FROM cache_tag_seq WHERE tag = 'fault:queue'").first<{
			handled_seq: number;
		}>();
		expect(after?.handled_seq).toBe(row?.seq);
	});
});

describe("the purge API down for ten minutes", () => {
	it("keeps the purge in the queue with back-off, then drains it when the API returns", async () => {
		let down = true;
		const api = purgeApi(() => down);
		let waited = 0;
		let attempts = 0;
		// Each delivery fails and is retried after its delay, until ten minutes have passed.
		while (waited < 600) {
			attempts++;
			const result = await consumePurgeBatch(delivery("p", attempts, ["product:9"]), env.PURGE_QUEUE, [api.purger], {
				repurgeDelayS: 60,
				random: () => 0.5,
			});
			expect(result.outcome).toBe("retried");
			waited += result.retries?.[0]?.delaySeconds ?? 0;
		}
		// Within the queue's 12 retries (wrangler.toml): not dead-lettered.
		expect(attempts).toBeLessThanOrEqual(12);
		down = false;
		const result = await consumePurgeBatch(delivery("p", attempts + 1, ["product:9"]), env.PURGE_QUEUE, [api.purger], {
			repurgeDelayS: 60,
		});
		expect(result.outcome).toBe("purged");
		expect(api.requests.at(-1)).toEqual({ tags: ["product:9"] });
		expect(api.requests).toHaveLength(attempts + 1);
	});

	it("back-off adds up to more than ten minutes within the queue's retries, even at its shortest", () => {
		let total = 0;
		for (let attempt = 1; attempt <= 12; attempt++) total += retryDelaySeconds(attempt, undefined, () => 0);
		expect(total).toBeGreaterThan(600);
	});
});

describe("a queue message delivered twice", () => {
	it("purges twice (purges are idempotent) and acks both, changing nothing else", async () => {
		const api = purgeApi(() => false);
		const seq = await env.DB.prepare("SELECT value FROM cache_seq").first<{ value: number }>();
		for (let i = 0; i < 2; i++) {
			const result = await consumePurgeBatch(delivery("same", 1, ["product:1"]), env.PURGE_QUEUE, [api.purger], {
				repurgeDelayS: 60,
			});
			expect(result.outcome).toBe("purged");
		}
		expect(api.requests).toEqual([{ tags: ["product:1"] }, { tags: ["product:1"] }]);
		expect(await env.DB.prepare("SELECT value FROM cache_seq").first<{ value: number }>()).toEqual(seq);
	});
});
