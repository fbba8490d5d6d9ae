export function intendedAt(i: number, rateRps: number): number;
export function requestCount(rateRps: number, seconds: number): number;
export function runOpenLoop(options: {
	rateRps: number;
	seconds: number;
	send: (i: number, signal: AbortSignal) => Promise<boolean>;
	record: (ms: number, i: number) => void;
	graceMs?: number;
	now?: () => number;
	sleep?: (ms: number) => Promise<void>;
}): Promise<{
	sent: number;
	completed: number;
	errors: number;
	timedOut: number;
	elapsedS: number;
	maxSendLagMs: number;
}>;
