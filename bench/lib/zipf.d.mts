export { createRandom } from "../../scripts/lib/catalog-generator.mjs";
export function createZipf(
	n: number,
	s: number,
	random: () => number,
): { next(): number; probability(k: number): number };
