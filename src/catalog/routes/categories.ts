import { createRoute } from "@hono/zod-openapi";
import { writeScope } from "tiercache";
import { categoryBySlug, insertCategory, listCategories, updateCategory } from "../../db/categories";
import { createDb } from "../../db/client";
import { writeError } from "../../db/errors";
import { toPage } from "../../db/pagination";
import { adminAuth } from "../../http/admin-auth";
import { ApiError } from "../../http/errors";
import { jsonBody } from "../../http/json-body";
import { createRouter } from "../../http/router";
import { presentCategory } from "../present";
import { Category, CategoryCreate, CategoryListQuery, CategoryPatch, list, NoQuery, one, SlugParam } from "../schemas";
import { tags } from "../tags";
import { adminSecurity, errors, json, jsonRequest, notFound, writeResponses } from "./common";
import type { CatalogDeps } from "./deps";

export function categoryRoutes({ cache, policies }: CatalogDeps) {
	return createRouter()
		.openapi(
			createRoute({
				method: "get",
				path: "/v1/categories",
				tags: ["categories"],
				summary: "List categories",
				request: { query: CategoryListQuery },
				responses: { 200: json(list(Category), "Categories by name"), 400: errors[400], 503: errors[503] },
			}),
			(c) => {
				const query = c.req.valid("query");
				return cache.read(c, policies.categories, async (origin) => {
					const [rows] = await origin.batch([listCategories(origin.db, query)]);
					const page = toPage(rows, query);
					return {
						status: 200,
						body: { data: page.items.map(presentCategory), page: page.page, limit: page.limit, next: page.next },
						tags: [tags.categories, ...page.items.map((row) => tags.category(row.id))],
					};
				});
			},
		)
		.openapi(
			createRoute({
				method: "get",
				path: "/v1/categories/{slug}",
				tags: ["categories"],
				summary: "Get a category",
				request: { params: SlugParam, query: NoQuery },
				responses: { 200: json(one(Category), "The category"), 400: errors[400], 404: errors[404], 503: errors[503] },
			}),
			(c) => {
				const { slug } = c.req.valid("param");
				return cache.read(c, policies.category, async (origin) => {
					const [[row]] = await origin.batch([categoryBySlug(origin.db, slug)]);
					if (!row) {
						// Tagged `categories`: creating the category invalidates this 404.
						return { status: 404, body: notFound(`no category with slug '${slug}'`), tags: [tags.categories] };
					}
					return { status: 200, body: { data: presentCategory(row) }, tags: [tags.category(row.id)] };
				});
			},
		)
		.openapi(
			createRoute({
				method: "post",
				path: "/v1/categories",
				tags: ["admin"],
				summary: "Create a category",
				security: adminSecurity,
				middleware: [adminAuth(), jsonBody()] as const,
				request: { body: jsonRequest(CategoryCreate) },
				responses: { 201: json(one(Category), "Created"), ...writeResponses },
			}),
			async (c) => {
				const input = c.req.valid("json");
				const row = await insertCategory(createDb(c.env.DB), input).catch((err) => {
					throw writeError(err, { conflict: `a category with slug '${input.slug}' already exists` });
				});
				await cache.afterWrite(c.env, [tags.categories, tags.category(row.id)], writeScope(c));
				c.header("Location", `/v1/categories/${row.slug}`);
				return c.json({ data: presentCategory(row) }, 201);
			},
		)
		.openapi(
			createRoute({
				method: "patch",
				path: "/v1/categories/{slug}",
				tags: ["admin"],
				summary: "Update a category",
				security: adminSecurity,
				middleware: [adminAuth(), jsonBody()] as const,
				request: { params: SlugParam, body: jsonRequest(CategoryPatch) },
				responses: { 200: json(one(Category), "Updated"), 404: errors[404], ...writeResponses },
			}),
			async (c) => {
				const { slug } = c.req.valid("param");
				const patch = c.req.valid("json");
				const row = await updateCategory(createDb(c.env.DB), slug, patch).catch((err) => {
					throw writeError(err, { conflict: `a category with slug '${patch.slug}' already exists` });
				});
				if (!row) throw new ApiError(404, `no category with slug '${slug}'`);
				await cache.afterWrite(c.env, [tags.categories, tags.category(row.id)], writeScope(c));
				return c.json({ data: presentCategory(row) }, 200);
			},
		);
}
