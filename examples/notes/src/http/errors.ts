import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../env";

const CODE_BY_STATUS: Record<number, string> = {
	400: "invalid_request",
	401: "unauthorized",
	404: "not_found",
	409: "conflict",
	503: "origin_unavailable",
};

/** An error with a code: `onError` renders it as `{"error": {"code", "message"}}`. */
export class ApiError extends HTTPException {
	readonly code: string;

	constructor(status: ContentfulStatusCode, message: string, code = CODE_BY_STATUS[status] ?? "error") {
		super(status, { message });
		this.code = code;
	}
}

/** The one error handler: every error body has the same shape, no stack, nothing cached. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
	const status = (err instanceof HTTPException ? err.status : 500) as ContentfulStatusCode;
	// Only server errors are logged, and only their message.
	if (status >= 500) console.error(JSON.stringify({ level: "error", path: c.req.path, message: err.message }));
	const code = err instanceof ApiError ? err.code : (CODE_BY_STATUS[status] ?? "internal_error");
	const message = status === 500 ? "internal error" : err.message;
	return c.json({ error: { code, message } }, status, { "Cache-Control": "no-store" });
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
	c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404, {
		"Cache-Control": "no-store",
	});
