import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../env";
import { ApiError } from "./errors";

export const MAX_BODY_BYTES = 64 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

const limit = bodyLimit({
	maxSize: MAX_BODY_BYTES,
	onError: () => {
		throw new ApiError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
	},
});

/**
 * Guards a JSON write route: `Content-Type: application/json` or 415, and at
 * most 64 KiB or 413 — counted on the bytes read, so a chunked body without
 * `Content-Length` is cut off as soon as it passes the limit.
 */
export function jsonBody(): MiddlewareHandler<AppEnv> {
	return async function jsonBody(c, next) {
		if (!JSON_TYPE.test(c.req.header("Content-Type") ?? "")) {
			throw new ApiError(415, "the request body must be JSON (Content-Type: application/json)");
		}
		return limit(c, next);
	};
}
