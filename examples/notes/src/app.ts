import { Hono } from "hono";
import type { TierCacheOptions } from "tiercache";
import { purgeWebhook } from "tiercache/webhook";
import { createNotesCache, notesPolicies } from "./cache";
import type { Db } from "./db/client";
import type { AppEnv } from "./env";
import { adminAuth } from "./http/admin-auth";
import { onError, onNotFound } from "./http/errors";
import { authorRoutes } from "./routes/authors";
import { labelRoutes } from "./routes/labels";
import { noteRoutes } from "./routes/notes";

/**
 * The notes API. Each call makes its own cache engine (memory tier, clock
 * view, counters): the Worker makes one per isolate; tests make fresh ones.
 */
export function createApp(cacheOptions: Partial<TierCacheOptions<AppEnv, Db>> = {}) {
	const cache = createNotesCache(cacheOptions);
	const deps = { cache, policies: notesPolicies(cache) };
	const app = new Hono<AppEnv>()
		.route("/", noteRoutes(deps))
		.route("/", authorRoutes(deps))
		.route("/", labelRoutes(deps))
		.get("/v1/cache/stats", adminAuth(), (c) => c.json(cache.snapshot(), 200, { "Cache-Control": "no-store" }))
		// Signed purges from other systems (Standard Webhooks); it verifies the raw bytes itself.
		.route(
			"/",
			purgeWebhook<AppEnv>({
				cache,
				database: (env) => env.DB,
				secrets: (c) => c.env.PURGE_WEBHOOK_SECRET?.split(/\s+/).filter(Boolean),
			}),
		);
	app.notFound(onNotFound);
	app.onError(onError);
	return Object.assign(app, { cache });
}

export type App = ReturnType<typeof createApp>;
