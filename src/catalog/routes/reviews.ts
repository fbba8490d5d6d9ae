import { createRoute } from "@hono/zod-openapi";
import { writeScope } from "tiercache";
import { createDb } from "../../db/client";
import { writeError } from "../../db/errors";
import { toPage } from "../../db/pagination";
import { productById } from "../../db/products";
import { insertReview, listReviews } from "../../db/reviews";
import { adminAuth } from "../../http/admin-auth";
import { ApiError } from "../../http/errors";
import { jsonBody } from "../../http/json-body";
import { createRouter } from "../../http/router";
import { productAnswer } from "../answers";
import { presentReview } from "../present";
import { IdParam, list, one, Review, ReviewCreate, ReviewListQuery } from "../schemas";
import { tags } from "../tags";
import { adminSecurity, errors, json, jsonRequest, notFound } from "./common";
import type { CatalogDeps } from "./deps";

export function reviewRoutes({ cache, policies }: CatalogDeps) {
	return createRouter()
		.openapi(
			createRoute({
				method: "get",
				path: "/v1/products/{id}/reviews",
				tags: ["products"],
				summary: "List a product's reviews, newest first",
				request: { params: IdParam, query: ReviewListQuery },
				responses: {
					200: json(list(Review), "One page of reviews"),
					400: errors[400],
					404: errors[404],
					503: errors[503],
				},
			}),
			(c) => {
				const { id } = c.req.valid("param");
				const query = c.req.valid("query");
				return cache.read(c, policies.reviews, async (origin) => {
					const [[product], rows] = await origin.batch([productById(origin.db, id), listReviews(origin.db, id, query)]);
					const tagged = [tags.product(id), tags.productReviews(id)];
					if (!product) return { status: 404, body: notFound(`no product with id ${id}`), tags: tagged };
					const page = toPage(rows, query);
					return {
						status: 200,
						body: { data: page.items.map(presentReview), page: page.page, limit: page.limit, next: page.next },
						tags: tagged,
						// The page holds review rows only: every change to them, and the product's deletion,
						// bumps the reviews' tag; a change to the product row itself leaves the page as it is.
						validateBy: [tags.productReviews(id)],
						// The product's row, read in the same snapshot: its page needs no load of its own.
						related: [{ policy: policies.product, params: { id }, answer: productAnswer(product) }],
					};
				});
			},
		)
		.openapi(
			createRoute({
				method: "post",
				path: "/v1/products/{id}/reviews",
				tags: ["admin"],
				summary: "Add a review; the product's rating summary is updated in the same transaction",
				security: adminSecurity,
				middleware: [adminAuth(), jsonBody()] as const,
				request: { params: IdParam, body: jsonRequest(ReviewCreate) },
				responses: {
					201: json(one(Review), "Created"),
					400: errors[400],
					401: errors[401],
					404: errors[404],
					413: errors[413],
					415: errors[415],
					503: errors[503],
				},
			}),
			async (c) => {
				const { id } = c.req.valid("param");
				const input = c.req.valid("json");
				const written = await insertReview(createDb(c.env.DB), id, input).catch((err) => {
					throw writeError(err, { conflict: "the review conflicts with an existing one" });
				});
				if (!written) throw new ApiError(404, `no product with id ${id}`);
				// The rating summary changed too, which can reorder rating-sorted listings.
				const changed = [tags.product(id), tags.productReviews(id), tags.productsOrder("rating")];
				await cache.afterWrite(c.env, changed, writeScope(c));
				c.header("Location", `/v1/products/${id}/reviews`);
				return c.json({ data: presentReview(written.review) }, 201);
			},
		);
}
