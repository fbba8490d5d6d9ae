import { createRoute, z } from "@hono/zod-openapi";
import type { Origin } from "tiercache";
import { categoryBySlug } from "../../db/categories";
import type { Db } from "../../db/client";
import { PRIOR_WEIGHT, rankProducts } from "../../db/top-products";
import { createRouter } from "../../http/router";
import { presentProduct } from "../present";
import { Product, TopProductsQuery } from "../schemas";
import { tags } from "../tags";
import { errors, json, notFound } from "./common";
import type { CatalogDeps } from "./deps";

const Ranked = z
	.object({
		data: z.array(Product.extend({ score: z.number() })),
		prior: z.object({ mean: z.number(), weight: z.number().int() }),
		category: z.string().nullable(),
		limit: z.number().int(),
	})
	.openapi("TopProducts");

type RankedBody = z.infer<typeof Ranked>;

/**
 * The whole stored ranking of a scope (100 products): what the cron
 * precomputes and what a request's `limit` is cut from.
 */
export async function loadRanking(origin: Origin<Db>, category: string | undefined) {
	const [[found], rows] = await origin.batch([
		categoryBySlug(origin.db, category ?? ""),
		rankProducts(origin.db, category),
	]);
	if (category !== undefined && !found) {
		return {
			status: 404 as const,
			body: notFound(`no category with slug '${category}'`),
			tags: [tags.categories, tags.topProducts],
		};
	}
	const body: RankedBody = {
		data: rows.map((r) => ({ ...presentProduct(r.product), score: Math.round(r.score * 1000) / 1000 })),
		prior: { mean: Math.round((rows[0]?.prior ?? 0) * 1000) / 1000, weight: PRIOR_WEIGHT },
		category: category ?? null,
		limit: rows.length,
	};
	return {
		status: 200 as const,
		body,
		tags: found ? [tags.topProducts, tags.category(found.id)] : [tags.topProducts],
	};
}

export function topProductRoutes({ cache, policies }: CatalogDeps) {
	return createRouter().openapi(
		createRoute({
			method: "get",
			path: "/v1/top-products",
			tags: ["products"],
			summary: "Products ranked by Bayesian average rating, overall or in a category (precomputed)",
			description: `score = (${PRIOR_WEIGHT} · m + Σ ratings) / (${PRIOR_WEIGHT} + n), m = the catalog's mean rating. Recomputed by the Cron Trigger for the scopes whose data changed.`,
			request: { query: TopProductsQuery },
			responses: { 200: json(Ranked, "The ranking, best first"), 400: errors[400], 404: errors[404], 503: errors[503] },
		}),
		(c) => {
			const { category, limit } = c.req.valid("query");
			return cache.read(c, policies.topProducts, (origin) => loadRanking(origin, category), {
				view: (body) => {
					const ranked = body as RankedBody;
					return { ...ranked, data: ranked.data.slice(0, limit), limit };
				},
			});
		},
	);
}
