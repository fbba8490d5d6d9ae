// Zipf(s) over ranks 1..n by inverse transform on a precomputed CDF.
import { createRandom } from "../../scripts/lib/catalog-generator.mjs";

export function createZipf(n, s, random) {
	if (!Number.isInteger(n) || n < 1) throw new Error("n must be a positive integer");
	if (!(s > 0)) throw new Error("s must be positive");
	const cdf = new Float64Array(n);
	let sum = 0;
	for (let k = 1; k <= n; k++) {
		sum += 1 / k ** s;
		cdf[k - 1] = sum;
	}
	for (let i = 0; i < n; i++) cdf[i] /= sum;
	return {
		/** A rank in 1..n; rank 1 is the most frequent. */
		next() {
			const u = random();
			let lo = 0;
			let hi = n - 1;
			while (lo < hi) {
				const mid = (lo + hi) >>> 1;
				if (cdf[mid] < u) lo = mid + 1;
				else hi = mid;
			}
			return lo + 1;
		},
		/** P(rank = k). */
		probability(k) {
			return cdf[k - 1] - (k > 1 ? cdf[k - 2] : 0);
		},
	};
}

export { createRandom };
