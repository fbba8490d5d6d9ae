import { env } from "cloudflare:workers";
import { createDb } from "../../src/db/client";
import { categories, products, reviews } from "../../src/db/schema";

export const ADMIN = { Authorization: "Bearer test-admin-token" } as const;

export function db() {
	return createDb(env.DB);
}

/** Empties the catalog tables (children first). */
export async function resetCatalog() {
	await env.DB.batch([
		env.DB.prepare("DELETE FROM reviews"),
		env.DB.prepare("DELETE FROM products"),
		env.DB.prepare("DELETE FROM categories"),
	]);
}

/** A small known catalog: 2 categories, 3 products, reviews on product 1. */
export async function seedSmallCatalog() {
	const d = db();
	await d.insert(categories).values([
		{ id: 1, slug: "kitchen", name: "Kitchen", description: "Pots and pans" },
		{ id: 2, slug: "garden", name: "Garden" },
	]);
	await d.insert(products).values([
		{
			id: 1,
			sku: "K-1",
			slug: "cast-iron-pan",
			name: "Cast iron pan",
			priceCents: 4500,
			categoryId: 1,
			stock: 10,
			createdAt: "2026-01-01T00:00:00.000Z",
			updatedAt: "2026-01-01T00:00:00.000Z",
		},
		{
			id: 2,
			sku: "K-2",
			slug: "chef-knife",
			name: "Chef knife",
			priceCents: 9900,
			categoryId: 1,
			stock: 3,
			createdAt: "2026-01-02T00:00:00.000Z",
			updatedAt: "2026-01-02T00:00:00.000Z",
		},
		{
			id: 3,
			sku: "G-1",
			slug: "rake",
			name: "Rake",
			priceCents: 1500,
			categoryId: 2,
			stock: 0,
			createdAt: "2026-01-03T00:00:00.000Z",
			updatedAt: "2026-01-03T00:00:00.000Z",
		},
	]);
	await d.insert(reviews).values([
		{ productId: 1, rating: 5, title: "Great", createdAt: "2026-02-01T00:00:00.000Z" },
		{ productId: 1, rating: 4, title: "Good", createdAt: "2026-02-02T00:00:00.000Z" },
	]);
}

export function get(path: string, init: RequestInit = {}) {
	return fetchApp(path, { ...init, method: init.method ?? "GET" });
}

export function sendJson(method: string, path: string, body: unknown, headers: Record<string, string> = ADMIN) {
	return fetchApp(path, {
		method,
		headers: { "Content-Type": "application/json", ...headers },
		body: typeof body === "string" ? body : JSON.stringify(body),
	});
}

export async function fetchApp(path: string, init: RequestInit = {}): Promise<Response> {
	const { exports } = await import("cloudflare:workers");
	return (exports as unknown as { default: Fetcher }).default.fetch(`http://tiercache.test${path}`, init);
}
