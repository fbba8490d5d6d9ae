import { desc, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { type PageRequest, pageWindow } from "./pagination";
import { type Product, products, type Review, reviews } from "./schema";

export type ReviewInput = { rating: number; title?: string; body?: string; author?: string };

/** One page of a product's reviews, newest first. Batchable. */
export function listReviews(db: Db, productId: number, page: PageRequest) {
	const { limit, offset } = pageWindow(page);
	return db
		.select()
		.from(reviews)
		.where(eq(reviews.productId, productId))
		.orderBy(desc(reviews.createdAt), desc(reviews.id))
		.limit(limit)
		.offset(offset);
}

/**
 * Inserts a review and updates the product's rating summary in one D1 batch
 * (one transaction), so the summary never disagrees with the reviews and no
 * read has to scan them. Returns undefined when the product does not exist.
 */
export async function insertReview(
	db: Db,
	productId: number,
	input: ReviewInput,
): Promise<{ review: Review; product: Product } | undefined> {
	const now = new Date().toISOString();
	// The INSERT selects from products, so a missing product inserts nothing
	// and the UPDATE touches nothing: no foreign-key error, no partial write.
	const [inserted, updated] = await db.batch([
		db
			.insert(reviews)
			.select(
				db
					.select({
						id: sql`NULL`.as("id"),
						productId: products.id,
						rating: sql`${input.rating}`.as("rating"),
						title: sql`${input.title ?? ""}`.as("title"),
						body: sql`${input.body ?? ""}`.as("body"),
						author: sql`${input.author ?? "anonymous"}`.as("author"),
						createdAt: sql`${now}`.as("created_at"),
					})
					.from(products)
					.where(eq(products.id, productId)),
			)
			.returning(),
		db
			.update(products)
			.set({
				ratingCount: sql`${products.ratingCount} + 1`,
				ratingSum: sql`${products.ratingSum} + ${input.rating}`,
				ratingAverage: sql`round(CAST(${products.ratingSum} + ${input.rating} AS REAL) / (${products.ratingCount} + 1), 2)`,
				updatedAt: now,
			})
			.where(eq(products.id, productId))
			.returning(),
	]);
	const review = inserted[0];
	const product = updated[0];
	if (!review || !product) return undefined;
	return { review, product };
}
