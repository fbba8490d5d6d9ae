export interface Random {
	next(): number;
	int(min: number, max: number): number;
	pick<T>(list: readonly T[]): T;
	normal(): number;
}
export interface CategoryRow {
	id: number;
	slug: string;
	name: string;
	description: string;
	createdAt: string;
	updatedAt: string;
}
export interface ProductRow {
	id: number;
	sku: string;
	slug: string;
	name: string;
	description: string;
	priceCents: number;
	currency: string;
	categoryId: number;
	stock: number;
	ratingCount: number;
	ratingSum: number;
	ratingAverage: number;
	createdAt: string;
	updatedAt: string;
}
export interface ReviewRow {
	id: number;
	productId: number;
	rating: number;
	title: string;
	body: string;
	author: string;
	createdAt: string;
}
export interface Catalog {
	categories: CategoryRow[];
	products: ProductRow[];
	reviews: ReviewRow[];
}
export function createRandom(seed: string): Random;
export function generateCatalog(options?: {
	seed?: string;
	categories?: number;
	products?: number;
	reviews?: number;
}): Catalog;
export function insertStatements(
	table: "categories" | "products" | "reviews",
	rows: readonly object[],
	maxBytes?: number,
): string[];
