import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "./errors";

const encoder = new TextEncoder();
const BEARER = /^Bearer[ ]+([\x21-\x7E]+)[ ]*$/i;

/** Bearer-token auth (ADMIN_TOKEN) for the writes and the stats, compared in constant time; no token set, no admin. */
export function adminAuth(): MiddlewareHandler<AppEnv> {
	return async function adminAuth(c, next) {
		const expected = c.env.ADMIN_TOKEN;
		const given = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
		if (!expected || !given || !(await secretsEqual(given, expected))) {
			throw new ApiError(401, "a valid bearer token is required");
		}
		await next();
	};
}

// Both hashed first, so neither the content nor the length of the token leaks through timing.
async function secretsEqual(given: string, expected: string): Promise<boolean> {
	const [a, b] = await Promise.all([
		crypto.subtle.digest("SHA-256", encoder.encode(given)),
		crypto.subtle.digest("SHA-256", encoder.encode(expected)),
	]);
	return crypto.subtle.timingSafeEqual(a, b);
}
