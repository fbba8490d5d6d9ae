export const CATEGORY_SLUGS: string[];
export type Op =
	| { kind: "write"; id: number; isolate: string; stock: number }
	| { kind: "product" | "listing" | "reviews"; path: string; isolate: string };
export function createWorkload(options: {
	seed: string;
	products: number;
	zipfS: number;
	writeRatio: number;
	mix: { product: number; listing: number; reviews: number };
	isolates: string[];
}): { at(i: number): Op; slice(from: number, to: number): Op[] };
