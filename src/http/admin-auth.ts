import type { MiddlewareHandler } from "hono";
import { type AppEnv, DEV_ADMIN_TOKEN, isDevelopment } from "../env";
import { secretsEqual } from "./constant-time";
import { ApiError } from "./errors";

const BEARER = /^Bearer[ ]+([\x21-\x7E]+)[ ]*$/i;

/**
 * Bearer-token auth for admin routes, compared in constant time. Outside
 * development the routes refuse to run with the development token or none.
 */
export function adminAuth(): MiddlewareHandler<AppEnv> {
	return async function adminAuth(c, next) {
		const expected = c.env.ADMIN_TOKEN;
		if (!isDevelopment(c.env) && (!expected || expected === DEV_ADMIN_TOKEN)) {
			throw new ApiError(503, "admin routes are disabled: set the ADMIN_TOKEN secret", {
				code: "admin_not_configured",
			});
		}
		const match = BEARER.exec(c.req.header("Authorization") ?? "");
		if (!expected || !match?.[1] || !(await secretsEqual(match[1], expected))) {
			throw new ApiError(401, "a valid bearer token is required", {
				headers: { "WWW-Authenticate": 'Bearer realm="tiercache"' },
			});
		}
		await next();
	};
}
