import { Scalar } from "@scalar/hono-api-reference";
import type { TierCacheOptions } from "tiercache";
import { CACHE_SCHEMA_VERSION, catalogPolicies, createCatalogCache } from "./catalog/cache";
import { cacheStatsRoutes } from "./catalog/routes/cache-stats";
import { categoryRoutes } from "./catalog/routes/categories";
import { productRoutes } from "./catalog/routes/products";
import { reviewRoutes } from "./catalog/routes/reviews";
import { topProductRoutes } from "./catalog/routes/top-products";
import { webhookRoutes } from "./catalog/routes/webhook";
import type { Db } from "./db/client";
import type { AppEnv } from "./env";
import { requestId, securityHeaders } from "./http/common-headers";
import { onError, onNotFound } from "./http/errors";
import { decorateFrontHit } from "./http/front";
import { requestLog } from "./http/request-log";
import { createRouter } from "./http/router";
import { cachePage } from "./ops/cache-page";

/** Where /docs loads the API reference script from: served by this Worker (public/), no CDN. */
export const SCALAR_SCRIPT_PATH = "/vendor/scalar-api-reference.js";

const OPENAPI_INFO = {
	title: "tiercache catalog API",
	version: "1.0.0",
	description:
		"An edge-cached JSON API: public reads are served from a tiered cache (memory, Cache API, KV) in front of D1; admin writes invalidate every tier by tag.",
};

/**
 * The Worker's app. Each call makes its own cache engine (T1 memory, seq memo,
 * counters): the Worker makes one per isolate; tests make fresh ones.
 */
export function createApp(options: { cacheOptions?: Partial<TierCacheOptions<AppEnv, Db>> } = {}) {
	const base = createRouter();
	// The key version: the manual schema version plus a digest of the OpenAPI
	// document, so a deploy that changes any response shape starts new keys.
	let version: Promise<string> | undefined;
	const cache = createCatalogCache(
		() => {
			version ??= digest(JSON.stringify(base.getOpenAPI31Document({ openapi: "3.1.0", info: OPENAPI_INFO }))).then(
				(hash) => `${CACHE_SCHEMA_VERSION}-${hash}`,
			);
			return version;
		},
		{
			// Hot keys a write touched are re-warmed through this very app.
			rewarmOnWrite: { fetch: async (env, url, ctx) => base.fetch(new Request(url), env, ctx) },
			...options.cacheOptions,
		},
	);
	const deps = { cache, policies: catalogPolicies(cache) };

	base.use(requestId());
	base.use(requestLog());
	base.use(securityHeaders());

	// Chained, so the app's type carries every route (AppType, for `hc`).
	const app = base
		.get("/healthz", (c) => c.json({ ok: true as const }, 200, { "Cache-Control": "no-store" }))
		.route("/", categoryRoutes(deps))
		.route("/", productRoutes(deps))
		.route("/", reviewRoutes(deps))
		.route("/", topProductRoutes(deps))
		.route("/", cacheStatsRoutes(deps));
	// The webhook verifies raw bytes, outside the typed routes.
	base.route("/", webhookRoutes(deps));

	// `app` is `base` with the routes' types; the rest is registered on `base`.
	base.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		description: "ADMIN_TOKEN",
	});
	base.doc31("/openapi.json", { openapi: "3.1.0", info: OPENAPI_INFO });
	base.get(
		"/docs",
		Scalar({
			url: "/openapi.json",
			cdn: SCALAR_SCRIPT_PATH,
			pageTitle: "tiercache API reference",
			withDefaultFonts: false,
			// Nothing leaves the page: no AI agent (and its API registry), no
			// request proxy (the API is same-origin), no telemetry. The wrapper's
			// type predates `agent`, which the vendored script (1.46) reads.
			// Its developer tools (share to and deploy on scalar.com) are hidden too.
			...({ agent: { disabled: true }, showDeveloperTools: "never" } as object),
			proxyUrl: "",
			telemetry: false,
		}),
	);

	base.get("/_cache", cachePage);

	base.notFound(onNotFound);
	base.onError(onError);
	// The Worker's fetch handler: the app behind the engine's front door, which
	// answers memory hits for URLs the app answered before without running it.
	// Nothing in the app refuses a public read (no API keys, IP rules or rate
	// limits on reads; admin routes need Authorization, which always goes to
	// the app), and read routes return `cache.read` as it is.
	const serve = cache.front((request, env, ctx) => app.fetch(request, env, ctx), { decorate: decorateFrontHit });
	return Object.assign(app, { cache, policies: deps.policies, serve });
}

export type App = ReturnType<typeof createApp>;

/**
 * The app's type, for a typed client:
 * `hc<AppType>("https://api.example.com").v1.products[":id"].$get({ param: { id: "1" }, query: {} })`.
 */
export type AppType = App;

async function digest(text: string): Promise<string> {
	const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
	return [...bytes.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
