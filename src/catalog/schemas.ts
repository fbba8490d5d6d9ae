import { z } from "@hono/zod-openapi";
import { PRODUCT_SORTS } from "../db/products";

// Printable text: no control characters other than tab and newlines, and
// well-formed Unicode (no lone surrogates, which UTF-8 storage would mangle).
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const text = (max: number) =>
	z
		.string()
		.max(max)
		.refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters")
		.refine((s) => !LONE_SURROGATE.test(s), "must be well-formed Unicode");
const line = (min: number, max: number) =>
	text(max)
		.min(min)
		.refine((s) => !/[\r\n\t]/.test(s), "must be a single line");

export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const slug = z.string().min(1).max(100).regex(SLUG, "must be lowercase letters, digits and single dashes");
const sku = z
	.string()
	.min(1)
	.max(64)
	.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be letters, digits, '.', '_' or '-'");
const MAX_INT = 1_000_000_000;
const count = (max: number) => z.number().int().min(0).max(max);

// A positive integer id in a path, as text: "42", not "042", "4.2" or "1e3".
export const IdParam = z.object({
	id: z
		.string()
		.regex(/^[1-9][0-9]{0,14}$/, "must be a positive integer")
		.transform(Number)
		.openapi({ param: { name: "id", in: "path" }, example: "42", type: "string" }),
});

export const SlugParam = z.object({
	slug: slug.openapi({ param: { name: "slug", in: "path" }, example: "kitchen" }),
});

const pageParam = z
	.string()
	.regex(/^[1-9][0-9]{0,5}$/, "must be an integer from 1")
	.transform(Number)
	.default(1)
	.openapi({ type: "integer", minimum: 1, default: 1 });
const limitParam = (fallback: number) =>
	z
		.string()
		.regex(/^[0-9]{1,3}$/, "must be an integer from 1 to 100")
		.transform(Number)
		.pipe(z.number().min(1, "must be at least 1").max(100, "must be at most 100"))
		.default(fallback)
		.openapi({ type: "integer", minimum: 1, maximum: 100, default: fallback });

export const ProductListQuery = z.strictObject({
	category: slug.optional().openapi({ description: "Category slug to filter by." }),
	sort: z.enum(PRODUCT_SORTS).default("newest"),
	page: pageParam,
	limit: limitParam(20),
});

export const TopProductsQuery = z.strictObject({
	category: slug.optional().openapi({ description: "Category slug; the overall ranking when absent." }),
	limit: limitParam(10),
});

export const ReviewListQuery = z.strictObject({ page: pageParam, limit: limitParam(20) });

// Few enough to fit on one page by default.
export const CategoryListQuery = z.strictObject({ page: pageParam, limit: limitParam(100) });

export const NoQuery = z.strictObject({});

export const Category = z
	.object({
		id: z.number().int(),
		slug: z.string(),
		name: z.string(),
		description: z.string(),
		createdAt: z.string(),
		updatedAt: z.string(),
	})
	.openapi("Category");

export const Product = z
	.object({
		id: z.number().int(),
		sku: z.string(),
		slug: z.string(),
		name: z.string(),
		description: z.string(),
		priceCents: z.number().int(),
		currency: z.string(),
		categoryId: z.number().int(),
		stock: z.number().int(),
		rating: z.object({ average: z.number(), count: z.number().int() }),
		createdAt: z.string(),
		updatedAt: z.string(),
	})
	.openapi("Product");

export const Review = z
	.object({
		id: z.number().int(),
		productId: z.number().int(),
		rating: z.number().int(),
		title: z.string(),
		body: z.string(),
		author: z.string(),
		createdAt: z.string(),
	})
	.openapi("Review");

export const CategoryCreate = z
	.strictObject({ slug, name: line(1, 200), description: text(5000).optional() })
	.openapi("CategoryCreate");

export const CategoryPatch = CategoryCreate.partial()
	.refine((v) => Object.keys(v).length > 0, "at least one field is required")
	.openapi("CategoryPatch");

export const ProductCreate = z
	.strictObject({
		sku,
		slug: slug.optional().openapi({ description: "Defaults to a slug of the name and the sku." }),
		name: line(1, 200),
		description: text(5000).optional(),
		priceCents: count(MAX_INT),
		currency: z
			.string()
			.regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as USD")
			.optional(),
		categoryId: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
		stock: count(MAX_INT).optional(),
	})
	.openapi("ProductCreate");

export const ProductPatch = ProductCreate.partial()
	.refine((v) => Object.keys(v).length > 0, "at least one field is required")
	.openapi("ProductPatch");

export const ReviewCreate = z
	.strictObject({
		rating: z.number().int().min(1).max(5),
		title: line(0, 200).optional(),
		body: text(5000).optional(),
		author: line(1, 100).optional(),
	})
	.openapi("ReviewCreate");

export const ErrorSchema = z
	.object({
		error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
	})
	.openapi("Error");

export const one = <T extends z.ZodTypeAny>(item: T) => z.object({ data: item });
export const list = <T extends z.ZodTypeAny>(item: T) =>
	z.object({
		data: z.array(item),
		page: z.number().int(),
		limit: z.number().int(),
		next: z.number().int().nullable(),
	});
