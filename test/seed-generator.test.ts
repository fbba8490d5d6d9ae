import { describe, expect, it } from "vitest";
import { createRandom, generateCatalog, insertStatements } from "../scripts/lib/catalog-generator.mjs";

describe("the seed generator", () => {
	it("gives the same catalog for the same seed, and another for another seed", () => {
		const a = generateCatalog({ seed: "s", products: 200, reviews: 1000, categories: 5 });
		const b = generateCatalog({ seed: "s", products: 200, reviews: 1000, categories: 5 });
		const c = generateCatalog({ seed: "t", products: 200, reviews: 1000, categories: 5 });
		expect(JSON.stringify(a)).toBe(JSON.stringify(b));
		expect(JSON.stringify(a.products)).not.toBe(JSON.stringify(c.products));
	});

	it("makes the default sizes with ids 1..N and summaries that agree with the reviews", () => {
		const catalog = generateCatalog({ seed: "tiercache" });
		expect(catalog.categories.length).toBeGreaterThanOrEqual(20);
		expect(catalog.products).toHaveLength(10_000);
		expect(catalog.reviews).toHaveLength(50_000);
		expect(catalog.products.map((p) => p.id)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
		const sums = new Map<number, { n: number; s: number }>();
		for (const r of catalog.reviews) {
			const entry = sums.get(r.productId) ?? { n: 0, s: 0 };
			entry.n += 1;
			entry.s += r.rating;
			sums.set(r.productId, entry);
			expect(r.rating).toBeGreaterThanOrEqual(1);
			expect(r.rating).toBeLessThanOrEqual(5);
		}
		for (const p of catalog.products) {
			const entry = sums.get(p.id) ?? { n: 0, s: 0 };
			expect([p.ratingCount, p.ratingSum]).toEqual([entry.n, entry.s]);
		}
		expect(new Set(catalog.products.map((p) => p.slug)).size).toBe(10_000);
		expect(new Set(catalog.categories.map((c) => c.slug)).size).toBe(catalog.categories.length);
	});

	it("writes INSERT statements under D1's 100 KB statement limit that escape quotes", () => {
		const rows = Array.from({ length: 2000 }, (_, i) => ({
			id: i + 1,
			slug: `s-${i}`,
			name: "O'Brien's",
			description: "x".repeat(100),
			createdAt: "2026-01-01T00:00:00.000Z",
			updatedAt: "2026-01-01T00:00:00.000Z",
		}));
		const statements = insertStatements("categories", rows);
		expect(statements.length).toBeGreaterThan(1);
		for (const sql of statements) expect(new TextEncoder().encode(sql).length).toBeLessThan(100_000);
		expect(statements[0]).toContain("'O''Brien''s'");
		expect(statements.join("").match(/\(\d+, 's-/g)).toHaveLength(2000);
	});

	it("draws uniformly enough from the seeded generator", () => {
		const random = createRandom("x");
		const buckets = new Array(10).fill(0);
		for (let i = 0; i < 100_000; i++) buckets[Math.floor(random.next() * 10)]++;
		for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(600);
	});
});
