import { Scalar } from "@scalar/hono-api-reference";
import { requestId } from "hono/request-id";
import { categoryRoutes } from "./catalog/routes/categories";
import { productRoutes } from "./catalog/routes/products";
import { reviewRoutes } from "./catalog/routes/reviews";
import { onError, onNotFound } from "./http/errors";
import { createRouter } from "./http/router";

/** Where /docs loads the API reference script from: served by this Worker (public/), no CDN. */
export const SCALAR_SCRIPT_PATH = "/vendor/scalar-api-reference.js";

export function createApp() {
	const app = createRouter();

	app.use(requestId());
	app.use(async function securityHeaders(c, next) {
		await next();
		c.res.headers.set("X-Content-Type-Options", "nosniff");
	});

	app.get("/healthz", (c) => c.json({ ok: true }, 200, { "Cache-Control": "no-store" }));

	app.route("/", categoryRoutes);
	app.route("/", productRoutes);
	app.route("/", reviewRoutes);

	app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		description: "ADMIN_TOKEN",
	});
	app.doc31("/openapi.json", {
		openapi: "3.1.0",
		info: {
			title: "tiercache catalog API",
			version: "1.0.0",
			description:
				"An edge-cached JSON API: public reads are served from a tiered cache (memory, Cache API, KV) in front of D1; admin writes invalidate every tier by tag.",
		},
	});
	app.get(
		"/docs",
		Scalar({
			url: "/openapi.json",
			cdn: SCALAR_SCRIPT_PATH,
			pageTitle: "tiercache API reference",
			withDefaultFonts: false,
		}),
	);

	app.notFound(onNotFound);
	app.onError(onError);
	return app;
}

export type App = ReturnType<typeof createApp>;
