import type { z } from "@hono/zod-openapi";
import { ErrorSchema } from "../schemas";

const error = (description: string) => ({
	description,
	content: { "application/json": { schema: ErrorSchema } },
});

/** Error responses shared by routes, for the OpenAPI document. */
export const errors = {
	400: error("Invalid path, query or body"),
	401: error("Missing or wrong bearer token"),
	404: error("Not found"),
	409: error("Conflicts with an existing row (unique sku or slug)"),
	413: error("Body larger than 64 KiB"),
	415: error("Body is not JSON"),
	503: error("The origin database is unavailable"),
} as const;

/** Error responses of a JSON admin write. */
export const writeResponses = {
	400: errors[400],
	401: errors[401],
	409: errors[409],
	413: errors[413],
	415: errors[415],
	503: errors[503],
} as const;

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
	description,
	content: { "application/json": { schema } },
});

export const jsonRequest = <T extends z.ZodTypeAny>(schema: T) => ({
	required: true,
	content: { "application/json": { schema } },
});

export const adminSecurity = [{ bearerAuth: [] }];

/** The body of a cacheable 404 (a loader returns it rather than throwing). */
export function notFound(message: string) {
	return { error: { code: "not_found", message } };
}
