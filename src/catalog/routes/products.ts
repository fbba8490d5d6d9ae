import { createRoute } from "@hono/zod-openapi";
import { writeScope } from "tiercache";
import { categoryBySlug } from "../../db/categories";
import { createDb } from "../../db/client";
import { writeError } from "../../db/errors";
import { toPage } from "../../db/pagination";
import { deleteProduct, insertProduct, listProducts, productById, updateProductQuery } from "../../db/products";
import { adminAuth } from "../../http/admin-auth";
import { ApiError } from "../../http/errors";
import { jsonBody } from "../../http/json-body";
import { createRouter } from "../../http/router";
import { productAnswer } from "../answers";
import { presentProduct } from "../present";
import { IdParam, list, NoQuery, one, Product, ProductCreate, ProductListQuery, ProductPatch } from "../schemas";
import { slugify } from "../slugify";
import { productChangeTags, tags } from "../tags";
import { adminSecurity, errors, json, jsonRequest, notFound, writeResponses } from "./common";
import type { CatalogDeps } from "./deps";

export function productRoutes({ cache, policies }: CatalogDeps) {
	return createRouter()
		.openapi(
			createRoute({
				method: "get",
				path: "/v1/products",
				tags: ["products"],
				summary: "List products",
				request: { query: ProductListQuery },
				responses: {
					200: json(list(Product), "One page of products"),
					400: errors[400],
					404: errors[404],
					503: errors[503],
				},
			}),
			(c) => {
				const query = c.req.valid("query");
				return cache.read(c, policies.products, async (origin) => {
					if (query.category === undefined) {
						const [rows] = await origin.batch([listProducts(origin.db, query)]);
						return productPage(rows, query, [tags.products, tags.productsOrder(query.sort)], policies.product);
					}
					const [[category], rows] = await origin.batch([
						categoryBySlug(origin.db, query.category),
						listProducts(origin.db, query),
					]);
					if (!category) {
						return {
							status: 404,
							body: notFound(`no category with slug '${query.category}'`),
							tags: [tags.categories, tags.products],
						};
					}
					return productPage(
						rows,
						query,
						[tags.products, tags.productsOrder(query.sort), tags.category(category.id)],
						policies.product,
					);
				});
			},
		)

		.openapi(
			createRoute({
				method: "get",
				path: "/v1/products/{id}",
				tags: ["products"],
				summary: "Get a product with its rating summary",
				request: { params: IdParam, query: NoQuery },
				responses: { 200: json(one(Product), "The product"), 400: errors[400], 404: errors[404], 503: errors[503] },
			}),
			(c) => {
				const { id } = c.req.valid("param");
				return cache.read(c, policies.product, async (origin) => {
					const [[row]] = await origin.batch([productById(origin.db, id)]);
					if (!row) {
						// Tagged as the product would be: creating it invalidates this 404.
						return { status: 404, body: notFound(`no product with id ${id}`), tags: [tags.product(id)] };
					}
					return productAnswer(row);
				});
			},
		)
		.openapi(
			createRoute({
				method: "post",
				path: "/v1/products",
				tags: ["admin"],
				summary: "Create a product",
				security: adminSecurity,
				middleware: [adminAuth(), jsonBody()] as const,
				request: { body: jsonRequest(ProductCreate) },
				responses: { 201: json(one(Product), "Created"), ...writeResponses },
			}),
			async (c) => {
				const input = c.req.valid("json");
				const slug = input.slug ?? slugify(`${input.name}-${input.sku}`);
				const row = await insertProduct(createDb(c.env.DB), { ...input, slug }).catch((err) => {
					throw writeError(err, {
						conflict: `a product with sku '${input.sku}' or slug '${slug}' already exists`,
						reference: `categoryId ${input.categoryId} does not exist`,
					});
				});
				await cache.afterWrite(c.env, productChangeTags(row.id, [row.categoryId]), writeScope(c));
				c.header("Location", `/v1/products/${row.id}`);
				return c.json({ data: presentProduct(row) }, 201);
			},
		)
		.openapi(
			createRoute({
				method: "patch",
				path: "/v1/products/{id}",
				tags: ["admin"],
				summary: "Update a product",
				security: adminSecurity,
				middleware: [adminAuth(), jsonBody()] as const,
				request: { params: IdParam, body: jsonRequest(ProductPatch) },
				responses: { 200: json(one(Product), "Updated"), 404: errors[404], ...writeResponses },
			}),
			async (c) => {
				const { id } = c.req.valid("param");
				const patch = c.req.valid("json");
				const db = createDb(c.env.DB);
				const [before] = await productById(db, id).catch((err) => {
					throw writeError(err, { conflict: "conflict" });
				});
				// The tags the update's triggers may bump: the product, the listings, its category before and after.
				const categories = before ? [before.categoryId] : [];
				if (patch.categoryId !== undefined) categories.push(patch.categoryId);
				const changed = productChangeTags(id, [...new Set(categories)]);
				// The update, cache_seq and those tags' seqs in one transaction: the product's page is written
				// through (valid until the next change to the product), and afterWrite reads nothing more.
				const { results, snapshot } = await cache
					.batch(db, [updateProductQuery(db, id, patch)], { tags: changed })
					.catch((err) => {
						throw writeError(err, {
							conflict: "another product has that sku or slug",
							reference: `categoryId ${patch.categoryId} does not exist`,
						});
					});
				const [[row]] = results;
				if (!row) throw new ApiError(404, `no product with id ${id}`);
				const scope = writeScope(c);
				await cache.store(
					c.env,
					snapshot,
					[{ policy: policies.product, params: { id }, answer: productAnswer(row) }],
					scope,
				);
				await cache.afterWrite(c.env, changed, scope, snapshot);
				return c.json({ data: presentProduct(row) }, 200);
			},
		)
		.openapi(
			createRoute({
				method: "delete",
				path: "/v1/products/{id}",
				tags: ["admin"],
				summary: "Delete a product and its reviews",
				security: adminSecurity,
				middleware: [adminAuth()] as const,
				request: { params: IdParam },
				responses: {
					204: { description: "Deleted" },
					400: errors[400],
					401: errors[401],
					404: errors[404],
					503: errors[503],
				},
			}),
			async (c) => {
				const { id } = c.req.valid("param");
				const deleted = await deleteProduct(createDb(c.env.DB), id).catch((err) => {
					throw writeError(err, { conflict: "the product cannot be deleted" });
				});
				if (!deleted) throw new ApiError(404, `no product with id ${id}`);
				const changed = [...productChangeTags(id, [deleted.categoryId]), tags.productReviews(id)];
				await cache.afterWrite(c.env, changed, writeScope(c));
				return c.body(null, 204);
			},
		);
}

function productPage(
	rows: Parameters<typeof presentProduct>[0][],
	query: { page: number; limit: number },
	base: string[],
	productPolicy: CatalogDeps["policies"]["product"],
) {
	const page = toPage(rows, query);
	// Each item's row is its product page's row, read in the same snapshot: the pages go to this
	// isolate's memory (where it has room), not to the Cache API, which would cost a write each.
	const items = page.items.map(productAnswer);
	return {
		status: 200 as const,
		body: { data: items.map((item) => item.body.data), page: page.page, limit: page.limit, next: page.next },
		tags: [...base, ...page.items.map((row) => tags.product(row.id))],
		related: items.map((answer) => ({
			policy: productPolicy,
			params: { id: answer.body.data.id },
			answer,
			tiers: ["memory"] as const,
		})),
	};
}
