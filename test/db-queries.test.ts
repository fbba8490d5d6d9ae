import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { categoryBySlug, listCategories } from "../src/db/categories";
import { toPage } from "../src/db/pagination";
import { deleteProduct, listProducts, productById, updateProduct } from "../src/db/products";
import { insertReview, listReviews } from "../src/db/reviews";
import { db, resetCatalog, seedSmallCatalog } from "./helpers/fixtures";

beforeEach(async () => {
	await resetCatalog();
	await seedSmallCatalog();
});

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);

describe("product queries", () => {
	it("sorts by every allowed order, ties broken by id", async () => {
		const page = { page: 1, limit: 10 };
		expect(ids(await listProducts(db(), { ...page, sort: "newest" }))).toEqual([3, 2, 1]);
		expect(ids(await listProducts(db(), { ...page, sort: "name" }))).toEqual([1, 2, 3]);
		expect(ids(await listProducts(db(), { ...page, sort: "price" }))).toEqual([3, 1, 2]);
		expect(ids(await listProducts(db(), { ...page, sort: "-price" }))).toEqual([2, 1, 3]);
		await env.DB.prepare("UPDATE products SET rating_average = CASE id WHEN 1 THEN 4.5 WHEN 2 THEN 3 ELSE 0 END").run();
		expect(ids(await listProducts(db(), { ...page, sort: "rating" }))).toEqual([3, 2, 1]);
		expect(ids(await listProducts(db(), { ...page, sort: "-rating" }))).toEqual([1, 2, 3]);
	});

	it("filters by category slug, and an unknown slug matches nothing", async () => {
		const page = { page: 1, limit: 10, sort: "name" as const };
		expect(ids(await listProducts(db(), { ...page, category: "kitchen" }))).toEqual([1, 2]);
		expect(ids(await listProducts(db(), { ...page, category: "nope" }))).toEqual([]);
	});

	it("reads one row more than the page to know whether a next page exists", async () => {
		const query = { page: 1, limit: 2, sort: "name" as const };
		const rows = await listProducts(db(), query);
		expect(rows).toHaveLength(3);
		expect(toPage(rows, query)).toMatchObject({ page: 1, limit: 2, next: 2 });
		const last = { ...query, page: 2 };
		expect(toPage(await listProducts(db(), last), last)).toMatchObject({ next: null, items: [{ id: 3 }] });
	});

	it("updates a product and moves updatedAt; a missing id updates nothing", async () => {
		const updated = await updateProduct(db(), 1, { priceCents: 4000 });
		expect(updated?.priceCents).toBe(4000);
		expect(updated?.updatedAt).not.toBe("2026-01-01T00:00:00.000Z");
		expect(await updateProduct(db(), 999, { priceCents: 1 })).toBeUndefined();
	});

	it("moves updatedAt on an UPDATE made behind the API's back (trigger)", async () => {
		await env.DB.prepare("UPDATE products SET stock = 99 WHERE id = 3").run();
		const [row] = await productById(db(), 3);
		expect(row?.stock).toBe(99);
		expect(row?.updatedAt).not.toBe("2026-01-03T00:00:00.000Z");
	});

	it("deletes a product with its reviews", async () => {
		expect(await deleteProduct(db(), 1)).toEqual({ id: 1, categoryId: 1 });
		expect(await productById(db(), 1)).toEqual([]);
		expect(await listReviews(db(), 1, { page: 1, limit: 10 })).toEqual([]);
		expect(await deleteProduct(db(), 1)).toBeUndefined();
	});
});

describe("review queries", () => {
	it("keeps the rating summary on the product in the same batch as the review", async () => {
		const first = await insertReview(db(), 2, { rating: 5, title: "Sharp" });
		expect(first?.product).toMatchObject({ ratingCount: 1, ratingSum: 5, ratingAverage: 5 });
		const second = await insertReview(db(), 2, { rating: 2 });
		expect(second?.product).toMatchObject({ ratingCount: 2, ratingSum: 7, ratingAverage: 3.5 });
		expect(second?.review).toMatchObject({ productId: 2, rating: 2, title: "", author: "anonymous" });
		const stored = await env.DB.prepare(
			"SELECT count(*) AS n, sum(rating) AS s FROM reviews WHERE product_id = 2",
		).first();
		expect(stored).toEqual({ n: 2, s: 7 });
	});

	it("writes nothing for a product that does not exist", async () => {
		expect(await insertReview(db(), 999, { rating: 4 })).toBeUndefined();
		const stored = await env.DB.prepare("SELECT count(*) AS n FROM reviews WHERE product_id = 999").first();
		expect(stored).toEqual({ n: 0 });
	});

	it("lists a product's reviews newest first", async () => {
		const rows = await listReviews(db(), 1, { page: 1, limit: 10 });
		expect(rows.map((r) => r.title)).toEqual(["Good", "Great"]);
	});
});

describe("category queries", () => {
	it("lists by name and finds by slug", async () => {
		expect((await listCategories(db(), { page: 1, limit: 10 })).map((c) => c.slug)).toEqual(["garden", "kitchen"]);
		expect((await categoryBySlug(db(), "kitchen"))[0]?.id).toBe(1);
		expect(await categoryBySlug(db(), "none")).toEqual([]);
	});
});
