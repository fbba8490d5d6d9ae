// The mixed workload as one seeded sequence of operations: every variant
// plays the same sequence (the i-th operation is the same whatever the
// variant, the timing or the order in which connections take them).
import { createRandom, createZipf } from "./zipf.mjs";

export const CATEGORY_SLUGS = ["kitchen", "garden", "outdoor", "office", "lighting", "bath", "bedroom", "toys"];

/**
 * @param {object} options
 * @param {string} options.seed
 * @param {number} options.products - ids 1..products
 * @param {number} options.zipfS
 * @param {number} options.writeRatio - share of operations that are writes (PATCH, at the first isolate)
 * @param {{ product: number, listing: number, reviews: number }} options.mix - shares of the reads
 * @param {string[]} options.isolates - reads go to one of these, drawn uniformly; writes to the first
 */
export function createWorkload({ seed, products, zipfS, writeRatio, mix, isolates }) {
	const random = createRandom(seed);
	const productZipf = createZipf(products, zipfS, random.next);
	const pageZipf = createZipf(Math.ceil(products / 20), zipfS, random.next);
	const ops = [];
	const pick = () => isolates[Math.min(isolates.length - 1, Math.floor(random.next() * isolates.length))];

	function next() {
		if (random.next() < writeRatio) {
			const id = productZipf.next();
			return { kind: "write", id, isolate: isolates[0], stock: Math.floor(random.next() * 1000) };
		}
		const r = random.next();
		const isolate = pick();
		if (r < mix.product) return { kind: "product", path: `/v1/products/${productZipf.next()}`, isolate };
		if (r < mix.product + mix.listing) {
			const path =
				random.next() < 0.5
					? `/v1/products?page=${pageZipf.next()}&limit=20`
					: `/v1/products?category=${CATEGORY_SLUGS[pageZipf.next() % CATEGORY_SLUGS.length]}&limit=20`;
			return { kind: "listing", path, isolate };
		}
		return { kind: "reviews", path: `/v1/products/${productZipf.next()}/reviews?limit=10`, isolate };
	}

	return {
		/** The i-th operation (0-based). */
		at(i) {
			while (ops.length <= i) ops.push(next());
			return ops[i];
		},
		/** The operations from `from` (inclusive) to `to` (exclusive). */
		slice(from, to) {
			this.at(to - 1);
			return ops.slice(from, to);
		},
	};
}
