import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { errorResponse } from "./errors";

/**
 * A router whose validation failures (path, query, body) answer the
 * contract's 400 with the offending fields listed.
 */
export function createRouter() {
	return new OpenAPIHono<AppEnv>({
		defaultHook: (result, c) => {
			if (result.success) return;
			const issues = result.error.issues.map((issue) => ({
				in: result.target,
				path: issue.path.join("."),
				message: issue.message,
			}));
			const first = issues[0];
			const message = first
				? `invalid ${first.in}${first.path ? ` field '${first.path}'` : ""}: ${first.message}`
				: `invalid ${result.target}`;
			return errorResponse(c, 400, "invalid_request", message, issues);
		},
	});
}
