import { describe, expect, it } from "vitest";
import { createLatencyHistogram } from "../bench/lib/histogram.mjs";
import { renderSvg, renderTable } from "../bench/lib/report.mjs";
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
			twoLocations: { convergenceMs: 900, converged: true, sameLocationFresh: true },
		};
		const table = renderTable(results);
		expect(table).toMatch(/^constant\s+100\s/m);
		expect(table).toMatch(/^tiercache\s+50\s/m);
		expect(table).toContain("64 concurrent cold requests for one key -> 1 origin load(s)");
		const svg = renderSvg(results);
		expect(svg.startsWith("<svg")).toBe(true);
		expect(svg).toContain(">tiercache<");
	});
});
