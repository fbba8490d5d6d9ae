import { asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { categories, products } from "./schema";

/**
 * The Bayesian average's prior: a product's score is its mean rating pulled
 * towards the catalog's mean rating `m` as if it had `PRIOR_WEIGHT` extra
 * reviews rated `m`:  score = (PRIOR_WEIGHT · m + Σ ratings) / (PRIOR_WEIGHT + n).
 * Few reviews → close to the catalog mean; many → close to the product's own.
 */
export const PRIOR_WEIGHT = 10;

/** How many ranked products are stored per scope; a request's `limit` takes the first ones. */
export const RANKING_SIZE = 100;

const catalogMean = sql<number>`(SELECT coalesce(CAST(sum(${products.ratingSum}) AS REAL) / nullif(sum(${products.ratingCount}), 0), 0) FROM ${products})`;

/**
 * The ranking of one scope (a category slug, or everything), best first: the
 * aggregate the cron precomputes. Batchable. A full scan of the scope.
 */
export function rankProducts(db: Db, categorySlug: string | undefined) {
	const score = sql<number>`(${PRIOR_WEIGHT} * ${catalogMean} + ${products.ratingSum}) / (${PRIOR_WEIGHT} + ${products.ratingCount})`;
	return db
		.select({ product: products, score: score.as("score"), prior: catalogMean.as("prior") })
		.from(products)
		.where(
			categorySlug === undefined
				? undefined
				: eq(
						products.categoryId,
						sql`(SELECT ${categories.id} FROM ${categories} WHERE ${categories.slug} = ${categorySlug})`,
					),
		)
		.orderBy(desc(sql`score`), asc(products.id))
		.limit(RANKING_SIZE);
}

/** Categories of these products, to know which rankings a change touched. */
export function categoriesOfProducts(db: Db, ids: readonly number[]) {
	return db
		.selectDistinct({ categoryId: products.categoryId })
		.from(products)
		.where(sql`${products.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
}
