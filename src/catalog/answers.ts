import type { Product } from "../db/schema";
import { presentProduct } from "./present";
import { tags } from "./tags";

/**
 * A product page's answer for the product's row: what the page's loader
 * gives, and what a write of the product or a page of its reviews (which read
 * the same row) hand the cache for the page, so its next visitor needs no load.
 */
export function productAnswer(row: Product) {
	return {
		status: 200 as const,
		body: { data: presentProduct(row) },
		tags: [tags.product(row.id), tags.category(row.categoryId)],
		// The body is the product row alone: a change elsewhere in its category (which bumps the
		// category's tag) leaves it as it is. The category's tag stays on it for the edge.
		validateBy: [tags.product(row.id)],
	};
}
