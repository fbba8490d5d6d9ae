import type { Context } from "hono";

export type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * What an invalidation needs of the request that made it: `waitUntil` for
 * the work after the answer, the execution context (Workers Cache purge
 * lives on `ctx.cache`), and where to report the first edge purge attempt's
 * time (`Server-Timing`).
 */
export interface WriteScope {
	waitUntil?: WaitUntil;
	executionCtx?: ExecutionContext<unknown>;
	timing?: (name: string, ms: number, description?: string) => void;
}

/** A `WaitUntil` alone, or a whole scope. */
export type Background = WaitUntil | WriteScope;

export function toWriteScope(background: Background | undefined): WriteScope {
	return typeof background === "function" ? { waitUntil: background } : (background ?? {});
}

/**
 * The write scope of a Hono request: its waitUntil and execution context, and
 * timings appended to the answer's `Server-Timing`.
 *
 * @example
 * ```ts
 * await cache.afterWrite(c.env, ["product:42"], writeScope(c));
 * ```
 */
export function writeScope(c: Context): WriteScope {
	return {
		waitUntil: (promise) => c.executionCtx.waitUntil(promise),
		executionCtx: c.executionCtx as ExecutionContext<unknown>,
		timing: (name, ms, description) =>
			c.header(
				"Server-Timing",
				`${name};dur=${Math.round(ms * 100) / 100}${description ? `;desc="${description}"` : ""}`,
				{ append: true },
			),
	};
}
