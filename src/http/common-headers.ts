import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

export const REQUEST_ID_HEADER = "X-Request-Id";

/** Headers on every answer. */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [["X-Content-Type-Options", "nosniff"]];

/**
 * A request's id: the X-Request-Id it came with when that is a plausible one
 * (at most 255 word characters, `-` or `=`, as Hono's request-id middleware
 * takes it), else a new UUID.
 */
export function requestIdOf(request: Request): string {
	const id = request.headers.get(REQUEST_ID_HEADER);
	return id && id.length <= 255 && !/[^\w\-=]/.test(id) ? id : crypto.randomUUID();
}

/** Sets the request id (`c.get("requestId")`, and the X-Request-Id header of the answer). */
export function requestId(): MiddlewareHandler<AppEnv> {
	return async function requestId(c, next) {
		const id = requestIdOf(c.req.raw);
		c.set("requestId", id);
		c.header(REQUEST_ID_HEADER, id);
		await next();
	};
}

/** Sets `SECURITY_HEADERS` on the answer. */
export function securityHeaders(): MiddlewareHandler<AppEnv> {
	return async function securityHeaders(c, next) {
		await next();
		for (const [name, value] of SECURITY_HEADERS) c.res.headers.set(name, value);
	};
}
