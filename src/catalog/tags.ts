// The catalog's surrogate keys. Every read names the data it depended on;
// every write invalidates the same names.
export const tags = {
	categories: "categories",
	category: (id: number) => `category:${id}`,
	products: "products",
	product: (id: number) => `product:${id}`,
	productReviews: (productId: number) => `reviews:product:${productId}`,
} as const;
