export function createLatencyHistogram(): {
	recordMs(ms: number): void;
	percentileMs(p: number): number;
	readonly count: number;
};
