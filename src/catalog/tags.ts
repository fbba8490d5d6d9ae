// The catalog's surrogate keys. Every read names the data it depended on;
// every write invalidates the same names.
export const tags = {
	categories: "categories",
	category: (id: number) => `category:${id}`,
	products: "products",
	product: (id: number) => `product:${id}`,
	productReviews: (productId: number) => `reviews:product:${productId}`,
} as const;

/**
 * What a change to a product invalidates: the product, its category before
 * and after, and every listing (`products`), since a change of name, price or
 * rating can move a product onto a page it was not on.
 */
export function productChangeTags(id: number, categoryIds: readonly number[]): string[] {
	return [tags.product(id), tags.products, ...categoryIds.map(tags.category)];
}
