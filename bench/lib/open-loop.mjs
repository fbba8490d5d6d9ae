// Open-loop load: requests are sent at a fixed rate whatever the answers'
// latency, and each one's latency is measured from its intended send time
// (not from when it could actually be sent), so a server that falls behind
// is charged for the queue it builds (no coordinated omission).

/** The intended send time (ms after the start) of the i-th request at `rateRps`. */
export function intendedAt(i, rateRps) {
	return (i * 1000) / rateRps;
}

/** How many requests a phase of `seconds` at `rateRps` sends. */
export function requestCount(rateRps, seconds) {
	return Math.max(1, Math.round(rateRps * seconds));
}

/**
 * Sends `requestCount(rateRps, seconds)` requests on schedule. `send(i, signal)`
 * performs the i-th and resolves true when it was answered correctly.
 * Requests still unanswered `graceMs` after the last intended send are
 * aborted and counted as timed out, with their latency so far (a lower
 * bound). `record(ms, i)` receives every latency, from the intended send time,
 * with the request's index.
 */
export async function runOpenLoop({
	rateRps,
	seconds,
	send,
	record,
	graceMs = 5_000,
	now = () => performance.now(),
	sleep = (ms) => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve))),
}) {
	const total = requestCount(rateRps, seconds);
	const pending = new Map();
	let completed = 0;
	let errors = 0;
	let timedOut = 0;
	let maxLagMs = 0;
	const t0 = now();
	let sent = 0;
	while (sent < total) {
		const t = now();
		while (sent < total && t0 + intendedAt(sent, rateRps) <= t) {
			const i = sent++;
			const intended = t0 + intendedAt(i, rateRps);
			maxLagMs = Math.max(maxLagMs, t - intended);
			const controller = new AbortController();
			const request = Promise.resolve()
				.then(() => send(i, controller.signal))
				.then(
					(ok) => {
						if (controller.signal.aborted) return;
						completed++;
						if (!ok) errors++;
						record(now() - intended, i);
					},
					() => {
						if (controller.signal.aborted) return;
						completed++;
						errors++;
						record(now() - intended, i);
					},
				)
				.finally(() => pending.delete(i));
			pending.set(i, { controller, intended, request });
		}
		if (sent < total) await sleep(t0 + intendedAt(sent, rateRps) - now());
	}
	const deadline = t0 + intendedAt(total - 1, rateRps) + graceMs;
	while (pending.size > 0 && now() < deadline) {
		await Promise.race([...[...pending.values()].map((p) => p.request), sleep(Math.min(50, deadline - now()))]);
	}
	for (const [i, p] of pending) {
		p.controller.abort();
		timedOut++;
		record(now() - p.intended, i);
		pending.delete(i);
	}
	const elapsedS = (now() - t0) / 1000;
	return { sent, completed, errors, timedOut, elapsedS, maxSendLagMs: maxLagMs };
}
