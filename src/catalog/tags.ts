import { PRODUCT_SORTS, type ProductSort } from "../db/products";

// The catalog's surrogate keys. Every read names the data it depended on;
// every write invalidates the same names.
export const tags = {
	categories: "categories",
	category: (id: number) => `category:${id}`,
	products: "products",
	/** The order of the listings sorted by one key (`created`, `name`, `price`, `rating`). */
	productsOrder: (sort: ProductSort) => `products:order:${ORDER_KEY[sort]}`,
	product: (id: number) => `product:${id}`,
	productReviews: (productId: number) => `reviews:product:${productId}`,
	topProducts: "top-products",
} as const;

/** The column a sort orders by, as the order tags name it (src/db/invalidation.ts). */
const ORDER_KEY: Record<ProductSort, string> = {
	newest: "created",
	name: "name",
	price: "price",
	"-price": "price",
	rating: "rating",
	"-rating": "rating",
};

/** Every order tag, once each. */
export const PRODUCT_ORDER_TAGS = [...new Set(PRODUCT_SORTS.map((sort) => tags.productsOrder(sort)))];

/**
 * The tags a change to a product may have bumped (the triggers of
 * src/db/invalidation.ts): the product, its category before and after, the
 * listings' membership (`products`) and their orders. Tags the triggers did
 * not bump are read back unchanged and cost nothing.
 */
export function productChangeTags(id: number, categoryIds: readonly number[]): string[] {
	return [tags.product(id), tags.products, ...PRODUCT_ORDER_TAGS, ...categoryIds.map(tags.category)];
}
