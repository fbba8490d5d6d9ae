import type { MiddlewareHandler } from "hono";
import { REWARM_HOST } from "tiercache";
import type { AppEnv } from "../env";

const REWARM_ORIGIN = `https://${REWARM_HOST}/`;

/** Which tier answered, from the response's Cache-Status. */
export function servedBy(cacheStatus: string | null): string | undefined {
	if (!cacheStatus) return undefined;
	const hit = /tiercache-(memory|colo|kv); hit/.exec(cacheStatus);
	if (hit) return hit[1];
	if (cacheStatus.includes("fwd=bypass")) return "bypass";
	return "origin";
}

/**
 * One JSON line per request, for Workers observability: request id, method,
 * route, status, the tier that answered, origin time and total time; the
 * engine's re-warm requests are marked `rewarm: true`. Never a header, a
 * query value or a body, so no token or secret can reach the logs.
 */
export function logRequest(line: {
	requestId: string | undefined;
	method: string;
	route: string;
	url: string;
	response: Response;
	ms: number;
}): void {
	const { response } = line;
	const timing = response.headers.get("Server-Timing") ?? "";
	const origin = /(?:^|, )origin;dur=([\d.]+)/.exec(timing);
	console.log(
		JSON.stringify({
			level: response.status >= 500 ? "error" : "info",
			requestId: line.requestId,
			method: line.method,
			route: line.route,
			status: response.status,
			tier: servedBy(response.headers.get("Cache-Status")),
			// The engine's own request for a hot key a write touched (or the purge queue's re-warm).
			rewarm: line.url.startsWith(REWARM_ORIGIN) ? true : undefined,
			originMs: origin ? Number(origin[1]) : undefined,
			ms: line.ms,
		}),
	);
}

/** Logs every request the app answers (`logRequest`); LOG_REQUESTS=off silences it (tests, benchmarks). */
export function requestLog(): MiddlewareHandler<AppEnv> {
	return async function requestLog(c, next) {
		const started = Date.now();
		await next();
		if (c.env.LOG_REQUESTS === "off") return;
		logRequest({
			requestId: c.get("requestId"),
			method: c.req.method,
			route: c.req.routePath,
			url: c.req.url,
			response: c.res,
			ms: Date.now() - started,
		});
	};
}
