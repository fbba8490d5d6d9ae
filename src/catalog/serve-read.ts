import type { Context, TypedResponse } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../http/errors";
import { createOrigin, type Origin } from "../origin";

export interface NotFoundBody {
	error: { code: string; message: string };
}

/**
 * What a read route's loader answers: a body, its status, and the tags of the
 * data it read. A 404 is an answer too (cached briefly, tagged with what would
 * have been there).
 */
export type Loaded =
	| { status: 200; body: unknown; tags: string[] }
	| { status: 404; body: NotFoundBody; tags: string[] };

export type Loader<L extends Loaded> = (origin: Origin) => Promise<L>;

/** The typed response for each answer a loader can give (for routes and `hc` clients). */
export type ReadResponse<L extends Loaded> = L extends { status: infer S extends 200 | 404; body: infer B }
	? TypedResponse<B, S, "json">
	: never;

/**
 * The one place every public read goes through: runs the route's loader
 * against the origin and renders the answer with its surrogate keys. This is
 * the seam the cache engine wraps; for now every read goes to D1 and is
 * marked `no-store`.
 */
export async function serveRead<L extends Loaded>(c: Context<AppEnv>, load: Loader<L>): Promise<ReadResponse<L>> {
	let loaded: L;
	try {
		loaded = await load(createOrigin(c.env));
	} catch (err) {
		if (err instanceof ApiError) throw err;
		throw new ApiError(503, "the origin database is unavailable", { code: "origin_unavailable", cause: err });
	}
	const tags = [...new Set(loaded.tags)];
	const response = c.json(loaded.body, loaded.status, {
		"Cache-Control": "no-store",
		"Cache-Tag": tags.join(","),
		"Surrogate-Key": tags.join(" "),
	});
	return response as unknown as ReadResponse<L>;
}
