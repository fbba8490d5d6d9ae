export class StaleDetector {
	staleReads: number;
	checkedReads: number;
	acknowledge(id: number, updatedAt: string, at: number): void;
	check(products: { id: number; updatedAt: string }[], issuedAt: number): boolean;
}
export function productsIn(body: unknown): { id: number; updatedAt: string }[];
