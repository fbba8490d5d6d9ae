// Reading the engine's Server-Timing cheaply: only whether, and how long, a
// request waited for the invalidation clock (the entry `clock;dur=<ms>`).

const CLOCK_WAIT = /(?:^|,)\s*clock;dur=([\d.]+)/;

/** How long the request waited for the clock (ms), or undefined when it did not (or no header). */
export function clockWaitMs(serverTiming) {
	if (!serverTiming) return undefined;
	const match = CLOCK_WAIT.exec(serverTiming);
	return match ? Number(match[1]) : undefined;
}
