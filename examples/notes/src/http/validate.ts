import { validator } from "hono/validator";
import type { z } from "zod";
import { ApiError } from "./errors";

type Target = "param" | "query" | "json";

/**
 * A zod validator for one part of the request. Valid input is normalised by
 * the schema (defaults applied) and, for `param` and `query`, is what the
 * cache key is built from.
 */
export function valid<T extends Target, S extends z.ZodType>(target: T, schema: S) {
	return validator(target, (value) => {
		const parsed = schema.safeParse(value);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			throw new ApiError(
				400,
				`invalid ${target}: ${issue?.path.join(".") || "value"}: ${issue?.message ?? "bad input"}`,
			);
		}
		return parsed.data as z.output<S>;
	});
}
