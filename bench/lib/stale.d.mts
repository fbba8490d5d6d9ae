export interface StaleCounts {
	staleReads: number;
	staleBeyondBound: number;
	checkedReads: number;
	writes: number;
	byIsolate: Record<string, number>;
}
export class StaleDetector {
	constructor(options?: { boundMs?: number });
	readonly boundMs: number;
	staleReads: number;
	staleBeyondBound: number;
	checkedReads: number;
	writes: number;
	byIsolate: Record<string, number>;
	maxLagMs: Record<string, number>;
	acknowledge(id: number, updatedAt: string, at: number, isolate?: string): void;
	check(
		products: { id: number; updatedAt: string }[],
		startedAt: number,
		isolate?: string,
	): { lagMs: number; beyondBound: boolean } | undefined;
	counts(before?: StaleCounts): StaleCounts;
}
export function productsIn(body: unknown): { id: number; updatedAt: string }[];
