import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../env";

/** The contract's error codes, by status. */
const CODE_BY_STATUS: Record<number, string> = {
	400: "invalid_request",
	401: "unauthorized",
	403: "forbidden",
	404: "not_found",
	405: "method_not_allowed",
	409: "conflict",
	413: "payload_too_large",
	415: "unsupported_media_type",
	429: "rate_limited",
	500: "internal_error",
	503: "origin_unavailable",
};

export interface ErrorBody {
	error: { code: string; message: string; details?: unknown };
}

/**
 * An error with a contract code. Throw it anywhere in a handler; `onError`
 * renders it as `{"error": {"code", "message"}}` with `Cache-Control: no-store`.
 */
export class ApiError extends HTTPException {
	readonly code: string;
	readonly details: unknown;
	readonly headers: Record<string, string>;

	constructor(
		status: ContentfulStatusCode,
		message: string,
		options: { code?: string; details?: unknown; headers?: Record<string, string>; cause?: unknown } = {},
	) {
		super(status, { message, cause: options.cause });
		this.code = options.code ?? CODE_BY_STATUS[status] ?? "error";
		this.details = options.details;
		this.headers = options.headers ?? {};
	}
}

export function errorResponse(
	c: Context,
	status: ContentfulStatusCode,
	code: string,
	message: string,
	details?: unknown,
	headers: Record<string, string> = {},
): Response {
	const body: ErrorBody = { error: { code, message } };
	if (details !== undefined) body.error.details = details;
	return c.json(body, status, { "Cache-Control": "no-store", ...headers });
}

export const onError: ErrorHandler<AppEnv> = (err, c) => {
	if (err instanceof ApiError) {
		if (err.status >= 500) logServerError(c, err);
		return errorResponse(c, err.status, err.code, err.message, err.details, err.headers);
	}
	if (err instanceof HTTPException) {
		// Hono's own exceptions (malformed JSON, body limit, …): keep the status,
		// map it to a contract code, never pass through a raw response.
		const status = err.status as ContentfulStatusCode;
		if (status >= 500) logServerError(c, err);
		return errorResponse(c, status, CODE_BY_STATUS[status] ?? "error", err.message || "request failed");
	}
	logServerError(c, err);
	return errorResponse(c, 500, "internal_error", "internal error");
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
	errorResponse(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);

function logServerError(c: Context<AppEnv>, err: unknown): void {
	// Only the error's name and message: request headers (tokens) are never logged.
	const describe = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { message: String(e) });
	const error = { ...describe(err), cause: err instanceof Error && err.cause ? describe(err.cause) : undefined };
	console.error(
		JSON.stringify({
			level: "error",
			requestId: c.get("requestId"),
			method: c.req.method,
			path: new URL(c.req.url).pathname,
			error,
		}),
	);
}
