import { ApiError } from "../http/errors";

/** The messages along an error's cause chain (drizzle wraps D1's error). */
function messages(err: unknown): string {
	const parts: string[] = [];
	for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
		parts.push(e instanceof Error ? e.message : String(e));
	}
	return parts.join(" | ");
}

/**
 * Turns a constraint violation from a write into the contract's 4xx; any
 * other failure means D1 could not be reached or failed: 503.
 */
export function writeError(err: unknown, what: { conflict: string; reference?: string }): ApiError {
	if (err instanceof ApiError) return err;
	const text = messages(err);
	if (/UNIQUE constraint failed/i.test(text)) return new ApiError(409, what.conflict);
	if (/FOREIGN KEY constraint failed/i.test(text))
		return new ApiError(400, what.reference ?? "a referenced row does not exist");
	if (/CHECK constraint failed/i.test(text)) return new ApiError(400, "a value is out of range");
	return new ApiError(503, "the origin database is unavailable", { code: "origin_unavailable", cause: err });
}
