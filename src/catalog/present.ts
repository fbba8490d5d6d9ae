import type { Category, Product, Review } from "../db/schema";

// Rows to the contract's JSON shapes: explicit, so a new column is never exposed by accident.

export function presentCategory(row: Category) {
	return {
		id: row.id,
		slug: row.slug,
		name: row.name,
		description: row.description,
		createdAt: row.createdAt,
		updatedAt: row.updatedAt,
	};
}

export function presentProduct(row: Product) {
	return {
		id: row.id,
		sku: row.sku,
		slug: row.slug,
		name: row.name,
		description: row.description,
		priceCents: row.priceCents,
		currency: row.currency,
		categoryId: row.categoryId,
		stock: row.stock,
		rating: { average: row.ratingAverage, count: row.ratingCount },
		createdAt: row.createdAt,
		updatedAt: row.updatedAt,
	};
}

export function presentReview(row: Review) {
	return {
		id: row.id,
		productId: row.productId,
		rating: row.rating,
		title: row.title,
		body: row.body,
		author: row.author,
		createdAt: row.createdAt,
	};
}
