import { asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Db } from "./client";
import { type PageRequest, pageWindow } from "./pagination";
import { categories, type Product, products } from "./schema";

export const PRODUCT_SORTS = ["newest", "name", "price", "-price", "rating", "-rating"] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

// Every order ends with the id so that pages are stable; each has an index.
const ORDER_BY: Record<ProductSort, SQL[]> = {
	newest: [desc(products.createdAt), desc(products.id)],
	name: [asc(products.name), asc(products.id)],
	price: [asc(products.priceCents), asc(products.id)],
	"-price": [desc(products.priceCents), desc(products.id)],
	rating: [asc(products.ratingAverage), asc(products.id)],
	"-rating": [desc(products.ratingAverage), desc(products.id)],
};

export interface ProductListQuery extends PageRequest {
	sort: ProductSort;
	/** Category slug to filter by. */
	category?: string;
}

export type ProductInput = {
	sku: string;
	slug: string;
	name: string;
	description?: string;
	priceCents: number;
	currency?: string;
	categoryId: number;
	stock?: number;
};
export type ProductPatch = Partial<ProductInput>;

export function productById(db: Db, id: number) {
	return db.select().from(products).where(eq(products.id, id)).limit(1);
}

/** One page of products (one row more than the page, see `toPage`). Batchable. */
export function listProducts(db: Db, query: ProductListQuery) {
	const { limit, offset } = pageWindow(query);
	const where =
		query.category === undefined
			? undefined
			: eq(
					products.categoryId,
					sql`(SELECT ${categories.id} FROM ${categories} WHERE ${categories.slug} = ${query.category})`,
				);
	return db
		.select()
		.from(products)
		.where(where)
		.orderBy(...ORDER_BY[query.sort])
		.limit(limit)
		.offset(offset);
}

export async function insertProduct(db: Db, input: ProductInput): Promise<Product> {
	const [row] = await db.insert(products).values(input).returning();
	return row as Product;
}

/** Returns the updated row, or undefined when there is no such product. */
export async function updateProduct(db: Db, id: number, patch: ProductPatch): Promise<Product | undefined> {
	const [row] = await updateProductQuery(db, id, patch);
	return row;
}

/** The update of `updateProduct`, returning the changed row (none when there is no such product). Batchable. */
export function updateProductQuery(db: Db, id: number, patch: ProductPatch) {
	return db
		.update(products)
		.set({ ...patch, updatedAt: new Date().toISOString() })
		.where(eq(products.id, id))
		.returning();
}

/** Deletes the product and (by cascade) its reviews; undefined when there was none. */
export async function deleteProduct(db: Db, id: number): Promise<{ id: number; categoryId: number } | undefined> {
	const [row] = await db
		.delete(products)
		.where(eq(products.id, id))
		.returning({ id: products.id, categoryId: products.categoryId });
	return row;
}
