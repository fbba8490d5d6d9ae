// The catalog's surrogate keys. Every read names the data it depended on;
// every write invalidates the same names.
export const tags = {
	categories: "categories",
	category: (id: number) => `category:${id}`,
	products: "products",
	product: (id: number) => `product:${id}`,
	productReviews: (productId: number) => `reviews:product:${productId}`,
	topProducts: "top-products",
} as const;

/**
 * The tags a change to a product may have bumped (migrations 0005, 0006): the
 * product, its category before and after, and the listings (`products`).
 * Tags the triggers did not bump are read back unchanged and cost nothing.
 */
export function productChangeTags(id: number, categoryIds: readonly number[]): string[] {
	return [tags.product(id), tags.products, ...categoryIds.map(tags.category)];
}
