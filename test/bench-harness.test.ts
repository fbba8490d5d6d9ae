import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createLatencyHistogram } from "../bench/lib/histogram.mjs";
import { laggingKv } from "../bench/lib/lagging-kv";
import { renderSvg, renderTable } from "../bench/lib/report.mjs";
import { clockWaitMs } from "../bench/lib/server-timing.mjs";
import { productsIn, StaleDetector } from "../bench/lib/stale.mjs";
import { createRandom, createZipf } from "../bench/lib/zipf.mjs";

describe("the Zipf sampler", () => {
	it("draws rank k with probability proportional to 1/k^s", () => {
		const random = createRandom("zipf-test");
		const zipf = createZipf(1000, 1.1, random.next);
		const counts = new Map<number, number>();
		const draws = 200_000;
		for (let i = 0; i < draws; i++) {
			const k = zipf.next();
			counts.set(k, (counts.get(k) ?? 0) + 1);
		}
		for (const k of [1, 2, 10]) {
			const expected = zipf.probability(k) * draws;
			expect(Math.abs((counts.get(k) ?? 0) - expected) / expected).toBeLessThan(0.05);
		}
		// P(1) / P(2) = 2^1.1
		expect(zipf.probability(1) / zipf.probability(2)).toBeCloseTo(2 ** 1.1, 6);
		const all = [...counts.keys()];
		expect(Math.min(...all)).toBeGreaterThanOrEqual(1);
		expect(Math.max(...all)).toBeLessThanOrEqual(1000);
	});

	it("rejects nonsense parameters", () => {
		expect(() => createZipf(0, 1.1, Math.random)).toThrow();
		expect(() => createZipf(10, 0, Math.random)).toThrow();
	});
});

describe("the latency histogram", () => {
	it("reports percentiles within its precision", () => {
		const h = createLatencyHistogram();
		for (let ms = 1; ms <= 100; ms++) h.recordMs(ms);
		expect(h.count).toBe(100);
		expect(h.percentileMs(50)).toBeCloseTo(50, 0);
		expect(h.percentileMs(99)).toBeCloseTo(99, 0);
		expect(h.percentileMs(100)).toBeCloseTo(100, 0);
	});
});

describe("stale-read detection", () => {
	const product = (id: number, updatedAt: string) => ({ id, sku: `S-${id}`, updatedAt });

	it("counts a read issued after an acknowledged write that still shows the old version", () => {
		const d = new StaleDetector();
		d.acknowledge(7, "2026-01-02T00:00:00.000Z", 100);
		expect(d.check([product(7, "2026-01-01T00:00:00.000Z")], 150)).toBe(true);
		expect(d.staleReads).toBe(1);
	});

	it("does not count a read issued before the write was acknowledged, or a fresh one", () => {
		const d = new StaleDetector();
		d.acknowledge(7, "2026-01-02T00:00:00.000Z", 100);
		expect(d.check([product(7, "2026-01-01T00:00:00.000Z")], 99)).toBe(false);
		expect(d.check([product(7, "2026-01-02T00:00:00.000Z")], 150)).toBe(false);
		expect(d.check([product(7, "2026-01-03T00:00:00.000Z")], 150)).toBe(false);
		expect(d.check([product(8, "2020-01-01T00:00:00.000Z")], 150)).toBe(false);
		expect(d.staleReads).toBe(0);
		expect(d.checkedReads).toBe(4);
	});

	it("keeps the newest acknowledged version and checks every item of a listing", () => {
		const d = new StaleDetector();
		d.acknowledge(1, "2026-01-03T00:00:00.000Z", 10);
		d.acknowledge(1, "2026-01-02T00:00:00.000Z", 20);
		expect(d.check([product(2, "2026-01-01T00:00:00.000Z"), product(1, "2026-01-02T00:00:00.000Z")], 30)).toBe(true);
	});

	it("finds the products in a product or a listing body", () => {
		expect(productsIn({ data: product(1, "x") })).toHaveLength(1);
		expect(productsIn({ data: [product(1, "x"), product(2, "y")] })).toHaveLength(2);
		expect(productsIn({ data: [{ id: 1, rating: 5 }] })).toHaveLength(0); // reviews
		expect(productsIn({ error: {} })).toHaveLength(0);
	});
});

describe("the report", () => {
	it("renders every variant in the table and the chart", () => {
		const v = (rps: number) => ({
			throughputRps: rps,
			p50Ms: 1,
			p95Ms: 2,
			p99Ms: 3,
			originLoadsPer1k: 0,
			staleReads: 0,
			errors: 0,
			hitRatio: { memory: 0.5, colo: 0, kv: 0 },
			vsConstant: { throughput: 1 },
			vsD1Direct: { throughput: 2 },
		});
		const results = {
			config: { durationS: 5, connections: 4, zipfS: 1.1, writeRatio: 0.01, originDelayMs: 50 },
			variants: { constant: v(100), tiercache: v(50) },
			stampede: { concurrent: 64, originLoads: 1 },
			twoLocations: {
				kvLagS: 60,
				convergenceMs: 900,
				converged: true,
				paths: {
					write: { convergenceMs: 400, converged: true, bStatusAfter: "tiercache-memory; fwd=miss" },
					rawSql: { convergenceMs: 900, converged: true },
				},
			},
		};
		results.variants.tiercache = {
			...v(50),
			clockWaits: { share: 0.0123, count: 12, p50Ms: 4, p99Ms: 9.5, maxMs: 10 },
		} as ReturnType<typeof v>;
		const table = renderTable(results);
		expect(table).toMatch(/^constant\s+100\s/m);
		expect(table).toMatch(/^tiercache\s+50\s/m);
		expect(table).toContain("64 concurrent cold requests for one key -> 1 origin load(s)");
		expect(table).toContain("the second served the change after write 400 ms, rawSql 900 ms (worst 900 ms");
		expect(table).toContain("tiercache 12 (1.23% of answers), p99 9.5 ms");
		const svg = renderSvg(results);
		expect(svg.startsWith("<svg")).toBe(true);
		expect(svg).toContain(">tiercache<");
	});
});

describe("Server-Timing", () => {
	it("finds the wait for the invalidation clock, and nothing else", () => {
		expect(clockWaitMs("clock;dur=12.5, memory;dur=0.1, origin;dur=50")).toBe(12.5);
		expect(clockWaitMs("memory;dur=0.1, colo;dur=2")).toBeUndefined();
		expect(clockWaitMs("xclock;dur=3")).toBeUndefined();
		expect(clockWaitMs(null)).toBeUndefined();
	});
});

describe("the lagging KV (two-location benchmark)", () => {
	const at = { t: 1_000_000 };
	const now = () => at.t;
	const writer = () => laggingKv(env.CACHE_KV, { lagMs: 0, now });
	const lagging = () => laggingKv(env.CACHE_KV, { lagMs: 60_000, now });

	it("shows a write at once where it was made, and after the lag elsewhere", async () => {
		at.t = 1_000_000;
		await writer().put("lag:a", '{"v":1}', { expirationTtl: 600, metadata: { n: 1 } });
		expect(await writer().get("lag:a", "json")).toEqual({ v: 1 });
		expect(await lagging().get("lag:a", "json")).toBeNull();
		at.t += 60_000;
		expect(await lagging().get("lag:a", "json")).toEqual({ v: 1 });
		expect(await lagging().getWithMetadata("lag:a", "text")).toMatchObject({ value: '{"v":1}', metadata: { n: 1 } });
	});

	it("answers a lagging read with the version as it was, until the new one is old enough", async () => {
		at.t = 2_000_000;
		await writer().put("lag:b", "old", { expirationTtl: 600 });
		at.t += 90_000;
		await writer().put("lag:b", "new", { expirationTtl: 600 });
		at.t += 1_000;
		await writer().put("lag:b", "newer", { expirationTtl: 600 });
		expect(await writer().get("lag:b")).toBe("newer");
		expect(await lagging().get("lag:b")).toBe("old");
		at.t += 59_500;
		expect(await lagging().get("lag:b")).toBe("new");
		at.t += 1_000;
		expect(await lagging().get("lag:b")).toBe("newer");
	});

	it("treats deletes and expiry as they were at the lagging time", async () => {
		at.t = 3_000_000;
		await writer().put("lag:c", "x", { expirationTtl: 60 });
		at.t += 10_000;
		await writer().delete("lag:c");
		expect(await writer().get("lag:c")).toBeNull();
		at.t += 55_000;
		expect(await lagging().get("lag:c")).toBe("x");
		at.t += 10_000;
		expect(await lagging().get("lag:c")).toBeNull();
		await writer().put("lag:d", "y", { expirationTtl: 60 });
		at.t += 130_000;
		expect(await lagging().get("lag:d")).toBeNull(); // expired 60 s after it was written
	});

	it("stamps back-dated writes in the past, so lagging readers see them at once", async () => {
		at.t = 4_000_000;
		await laggingKv(env.CACHE_KV, { lagMs: 0, now, backdateMs: () => 65_000 }).put("lag:e", "warm");
		expect(await lagging().get("lag:e")).toBe("warm");
	});
});
