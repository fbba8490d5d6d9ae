import { env } from "cloudflare:workers";
import { KvProbeGate } from "tiercache";
import { beforeAll, describe, expect, it } from "vitest";
import { countingKv, storageOps } from "../bench/lib/storage-ops";
import { cacheStatus, testApp } from "./helpers/app";
import { switchableD1 } from "./helpers/faults";
import { seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

/** The real KV binding, with its reads counted from here on (the benchmark's counter). */
function countedKv() {
	const from = storageOps.kvReads;
	return {
		kv: countingKv(env.CACHE_KV),
		counts: {
			get gets() {
				return storageOps.kvReads - from;
			},
		},
	};
}

describe("reading KV on a memory miss", () => {
	it("only after a Cache API miss at a warm location; together with it for a minute after KV last answered", async () => {
		const { kv, counts } = countedKv();
		const options = { shareKeys: true, kv: () => kv };
		// Location one: a loads product 1 (and writes it to KV on its second request); b is a new isolate there.
		const a = testApp({ ...options, cacheName: "kv-probe-one" });
		const b = testApp({ ...options, cacheName: "kv-probe-one" });
		b.clock.now = a.clock.now;
		await a.request("/v1/products/1");
		expect(counts.gets).toBe(1); // the Cache API missed, then KV
		await a.request("/v1/products/1"); // a memory hit: written to KV now
		const atB = await b.request("/v1/products/1");
		expect(cacheStatus(atB)).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(1); // a Cache API hit: KV not read
		expect(atB.headers.get("Server-Timing")).not.toMatch(/kv;/);

		// Location two: c finds product 1 in KV, so for a minute its memory misses read both at once.
		const c = testApp({ ...options, cacheName: "kv-probe-two" });
		c.clock.now = a.clock.now;
		expect(cacheStatus(await c.request("/v1/products/1"))).toMatch(/tiercache-kv; hit/);
		expect(counts.gets).toBe(2);
		await c.request("/v1/products/2"); // loaded: in c's memory and location two's Cache API
		expect(counts.gets).toBe(3);
		c.cache.memory.clear();
		expect(cacheStatus(await c.request("/v1/products/2"))).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(4); // read together with the Cache API
		c.cache.memory.clear();
		c.advance(60_000);
		expect(cacheStatus(await c.request("/v1/products/2"))).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(4); // a minute on: the Cache API first again

		// Location three: KV returns product 1, but invalidated since. That is no answer: the Cache API stays first.
		await a.cache.invalidateTags(env, ["product:1"]);
		const d = testApp({ ...options, cacheName: "kv-probe-three" });
		d.clock.now = a.clock.now;
		expect(cacheStatus(await d.request("/v1/products/1"))).toMatch(/tiercache-kv; fwd=miss; detail=invalidated/);
		expect(counts.gets).toBe(5);
		d.cache.memory.clear();
		expect(cacheStatus(await d.request("/v1/products/1"))).toMatch(/tiercache-colo; hit/);
		expect(counts.gets).toBe(5);
	});
});

describe("backing off KV where it answers nothing", () => {
	it("a gate probes every read while KV answers, every n-th once it has missed long enough, and every read again after an answer", () => {
		expect(new KvProbeGate().hitRate).toBe(0.25);
		const gate = new KvProbeGate({ minHitRate: 0.2, sampleEvery: 4 });
		let probed = 0;
		// 0.25 × (31/32)^8 < 0.2: eight probes KV did not answer.
		while (probed < 8) {
			expect(gate.shouldProbe()).toBe(true);
			gate.record(false);
			probed++;
		}
		expect(gate.hitRate).toBeLessThan(0.2);
		expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => gate.shouldProbe())).toEqual([
			false,
			false,
			false,
			true,
			false,
			false,
			false,
			true,
		]);
		gate.record(true);
		expect(gate.hitRate).toBeGreaterThanOrEqual(0.2);
		expect([1, 2, 3].map(() => gate.shouldProbe())).toEqual([true, true, true]);
		// With the defaults one answer is enough, however low the rate had fallen.
		const low = new KvProbeGate();
		for (let i = 0; i < 500; i++) low.record(false);
		expect(low.hitRate).toBeLessThan(0.001);
		low.record(true);
		expect(low.hitRate).toBeGreaterThan(0.02);
	});

	it("rejects options that would never probe or always skip", () => {
		expect(() => new KvProbeGate({ minHitRate: 1 })).toThrow(/minHitRate/);
		expect(() => new KvProbeGate({ minHitRate: -0.1 })).toThrow(/minHitRate/);
		expect(() => new KvProbeGate({ sampleEvery: 0 })).toThrow(/sampleEvery/);
		expect(() => new KvProbeGate({ sampleEvery: 2.5 })).toThrow(/sampleEvery/);
	});

	it("reads past the Cache API skip KV once it has answered none of them, load the same answer, and ask KV again after it answers", async () => {
		const { kv, counts } = countedKv();
		const options = { shareKeys: true, kv: () => kv, kvProbe: { minHitRate: 0.2, sampleEvery: 4 } };
		const a = testApp({ ...options, cacheName: "kv-gate-one" });
		// Eight cold reads (ids nobody has): the Cache API and KV both miss, each.
		for (let id = 200; id < 208; id++) {
			const res = await a.request(`/v1/products/${id}`);
			expect(res.status).toBe(404);
			expect(cacheStatus(res)).toMatch(/tiercache-kv; fwd=miss(?!; detail)/);
		}
		expect(counts.gets).toBe(8);
		expect(a.cache.stats.tiers.kv.skippedReads).toBe(0);

		// Now three reads in four skip KV; the answers are loaded as before.
		const statuses: string[] = [];
		for (let id = 208; id < 216; id++) {
			const res = await a.request(`/v1/products/${id}`);
			expect(res.status).toBe(404);
			statuses.push(/tiercache-kv; fwd=miss; detail=skipped/.test(cacheStatus(res)) ? "skipped" : "probed");
		}
		expect(statuses).toEqual(["skipped", "skipped", "skipped", "probed", "skipped", "skipped", "skipped", "probed"]);
		expect(counts.gets).toBe(10);
		expect(a.cache.stats.tiers.kv.skippedReads).toBe(6);
		expect(a.cache.stats.origin.byCause.cold).toBe(16);

		// Another location loads product 1 and writes it to KV (on its second request).
		const b = testApp({ ...options, cacheName: "kv-gate-two" });
		b.clock.now = a.clock.now;
		await b.request("/v1/products/1");
		await b.request("/v1/products/1");
		const gets = counts.gets;
		// At the first location, the reads before the next sample load product 1 themselves...
		for (let i = 0; i < 3; i++) {
			a.cache.memory.clear();
			await (await caches.open("kv-gate-one")).delete(`https://tiercache.invalid/${[...b.cache.memory.keys()][0]}`);
			const res = await a.request("/v1/products/1");
			expect(cacheStatus(res)).toMatch(/tiercache-kv; fwd=miss; detail=skipped/);
			expect(((await res.json()) as { data: { id: number } }).data.id).toBe(1);
		}
		expect(counts.gets).toBe(gets);
		// ...the sample finds it in KV, and the reads after it ask KV again.
		a.cache.memory.clear();
		await (await caches.open("kv-gate-one")).delete(`https://tiercache.invalid/${[...b.cache.memory.keys()][0]}`);
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/tiercache-kv; hit/);
		expect(counts.gets).toBe(gets + 1);
		// For a minute after KV answered, reads ask the Cache API and KV together (no gate)...
		for (let id = 216; id < 218; id++) {
			expect(cacheStatus(await a.request(`/v1/products/${id}`))).not.toMatch(/detail=skipped/);
		}
		expect(a.cache.stats.tiers.kv.skippedReads).toBe(9);
		// ...then the rate (0.21 after the answer, 0.19 after those two misses) is under 0.2 again.
		a.advance(60_000);
		expect(cacheStatus(await a.request("/v1/products/218"))).toMatch(/tiercache-kv; fwd=miss; detail=skipped/);
		expect(a.cache.stats.tiers.kv.skippedReads).toBe(10);

		// Off, every read past the Cache API asks KV.
		const always = testApp({ ...options, kvProbe: false, cacheName: "kv-gate-three" });
		const before = counts.gets;
		for (let id = 300; id < 330; id++) await always.request(`/v1/products/${id}`);
		expect(counts.gets - before).toBe(30);
		expect(always.cache.stats.tiers.kv.skippedReads).toBe(0);
	});
});

describe("a read that skipped KV when the origin fails", () => {
	it("asks KV after all: a fresh valid entry answers, one inside stale-if-error answers marked, an invalidated one never", async () => {
		const { kv, counts } = countedKv();
		const options = {
			shareKeys: true,
			kv: () => kv,
			kvProbe: { minHitRate: 0.2, sampleEvery: 4 },
			originTimeoutMs: 100,
		};
		const slowOrigin = { ENVIRONMENT: "development", ORIGIN_DELAY_MS: "300" };
		// Another location puts product 2 in KV.
		const b = testApp({ ...options, cacheName: "kv-fallback-b" });
		const body = await (await b.request("/v1/products/2")).text();
		await b.request("/v1/products/2");
		let next = 400;
		/** An isolate at a location of its own, backed off KV: eight reads that KV did not answer. */
		async function backedOff(name: string) {
			const a = testApp({ ...options, cacheName: name });
			a.clock.now = b.clock.now;
			for (const end = next + 8; next < end; ) await a.request(`/v1/products/${next++}`);
			expect(a.cache.stats.tiers.kv.skippedReads).toBe(0);
			return a;
		}

		// The read skips KV, the origin times out: KV is asked, and its fresh entry answers.
		const a1 = await backedOff("kv-fallback-1");
		const before = counts.gets;
		const fresh = await a1.request("/v1/products/2", {}, slowOrigin);
		expect(a1.cache.stats.tiers.kv.skippedReads).toBe(1);
		expect(fresh.status).toBe(200);
		expect(await fresh.text()).toBe(body);
		expect(cacheStatus(fresh)).toMatch(
			/^tiercache-kv; hit; ttl=\d+, tiercache-colo; fwd=miss, tiercache-memory; fwd=miss$/,
		);
		expect(fresh.headers.get("Server-Timing")).toMatch(/origin;dur=[\d.]+, kv;dur=/);
		expect(counts.gets).toBe(before + 1);
		expect(a1.cache.stats.origin.errors).toBe(1);
		expect(a1.cache.stats.served.unavailable).toBe(0);
		// Stored in the tiers above KV, as any KV hit is: the next read is a memory hit, and the location's Cache API has it.
		expect(cacheStatus(await a1.request("/v1/products/2"))).toMatch(/^tiercache-memory; hit/);
		a1.cache.memory.clear();
		expect(cacheStatus(await a1.request("/v1/products/2"))).toMatch(/^tiercache-colo; hit/);
		// Nothing in KV for product 3: 503 as before.
		const missing = await a1.request("/v1/products/3", {}, slowOrigin);
		expect(missing.status).toBe(503);
		expect(await missing.json()).toMatchObject({ error: { code: "origin_unavailable" } });

		// Past its ttl (120 s), inside stale-if-error (300 s): served, marked.
		const a2 = await backedOff("kv-fallback-2");
		a2.advance(200_000);
		const late = await a2.request("/v1/products/2", {}, slowOrigin);
		expect(a2.cache.stats.tiers.kv.skippedReads).toBe(1);
		expect(late.status).toBe(200);
		expect(await late.text()).toBe(body);
		expect(cacheStatus(late)).toMatch(/^tiercache-kv; hit; ttl=-\d+; detail=stale-if-error, /);
		expect(a2.cache.stats.served.staleIfError).toBe(1);

		// A stale copy in the Cache API and a fresh one in KV: the fresh one answers.
		const a4 = await backedOff("kv-fallback-4");
		await b.request("/v1/products/1");
		await b.request("/v1/products/1"); // in KV as of now
		const key = [...b.cache.memory.keys()].find((k) => k.endsWith("/product?p.id=1"));
		const atB = await (await caches.open("kv-fallback-b")).match(`https://tiercache.invalid/${key}`);
		const entry = (await atB?.json()) as { storedAt: number };
		expect(b.clock.now - entry.storedAt).toBeLessThan(5_000); // loaded just now
		// The first location's Cache API holds it as stored 200 s ago (past its ttl, inside stale-if-error).
		await (await caches.open("kv-fallback-4")).put(
			`https://tiercache.invalid/${key}`,
			new Response(JSON.stringify({ ...entry, storedAt: entry.storedAt - 200_000 }), {
				headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" },
			}),
		);
		const newer = await a4.request("/v1/products/1", {}, slowOrigin);
		expect(a4.cache.stats.tiers.kv.skippedReads).toBe(1);
		expect(newer.status).toBe(200);
		expect(cacheStatus(newer)).toMatch(
			/^tiercache-kv; hit; ttl=\d+, tiercache-colo; fwd=stale, tiercache-memory; fwd=miss$/,
		);

		// Invalidated since: KV is read, and its entry never served, even now.
		const a3 = await backedOff("kv-fallback-3");
		await a3.cache.invalidateTags(env, ["product:2"]);
		const gets = counts.gets;
		const invalidated = await a3.request("/v1/products/2", {}, slowOrigin);
		expect(a3.cache.stats.tiers.kv.skippedReads).toBe(1);
		expect(counts.gets).toBe(gets + 1);
		expect(a3.cache.stats.tiers.kv.invalidated).toBe(1);
		expect(invalidated.status).toBe(503);
		expect(a3.cache.stats.served.unavailable).toBe(1);
	});

	it("is never skipped under soft invalidation, where an invalidated KV entry still answers", async () => {
		const { kv, counts } = countedKv();
		const soft = testApp({
			kv: () => kv,
			kvProbe: { minHitRate: 0.2, sampleEvery: 4 },
			defaults: { onInvalidate: "soft" },
		});
		const before = counts.gets;
		for (let id = 600; id < 620; id++) await soft.request(`/v1/products/${id}`);
		expect(counts.gets - before).toBe(20);
		expect(soft.cache.stats.tiers.kv.skippedReads).toBe(0);
	});

	it("is never skipped while the clock cannot be read: KV answers, marked, as without the gate", async () => {
		const { d1, state } = switchableD1(env.DB);
		const { kv } = countedKv();
		const options = { shareKeys: true, kv: () => kv, kvProbe: { minHitRate: 0.2, sampleEvery: 4 } };
		const b = testApp({ ...options, cacheName: "kv-clockless-b" });
		await b.request("/v1/products/3");
		await b.request("/v1/products/3"); // in KV
		const a = testApp({ ...options, database: () => d1, cacheName: "kv-clockless-a" });
		a.clock.now = b.clock.now;
		for (let id = 500; id < 508; id++) await a.request(`/v1/products/${id}`); // backed off
		expect(cacheStatus(await a.request("/v1/products/508"))).toMatch(/detail=skipped/);
		state.down = true;
		a.advance(2_000); // the view is past its 1-s age, and D1 answers nothing
		const res = await a.request("/v1/products/3");
		expect(res.status).toBe(200);
		expect(cacheStatus(res)).toMatch(/^tiercache-kv; hit; ttl=\d+; detail=clock-unavailable/);
		expect(a.cache.stats.tiers.kv.skippedReads).toBe(1);
		state.down = false;
	});
});
