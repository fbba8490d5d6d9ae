import { defineInvalidation } from "tiercache/migrations";
import { categories, products, reviews } from "./schema";

/**
 * Which tags a row change bumps, per cached table: the source of the
 * invalidation triggers (`npm run db:triggers` writes
 * migrations/0008_listing_order_tags.sql; CI checks it is current).
 */
export default defineInvalidation([
	{
		table: categories,
		tags: [{ tag: "categories" }, { tag: "category:{id}" }],
	},
	{
		table: products,
		tags: [
			// Every change of a product, for pages that show it.
			{ tag: "product:{id}" },
			// Which products a listing holds: id and category. What each shows is `product:{id}`,
			// which every listing page also carries for the products on it.
			{ tag: "products", whenChanged: ["id", "category_id"] },
			// The order of the listings sorted by one key: only a change of that key reorders them.
			{ tag: "products:order:created", whenChanged: ["created_at"] },
			{ tag: "products:order:name", whenChanged: ["name"] },
			{ tag: "products:order:price", whenChanged: ["price_cents"] },
			{ tag: "products:order:rating", whenChanged: ["rating_average"] },
			// A category's pages change when a product joins or leaves it.
			{ tag: "category:{category_id}", whenChanged: ["category_id"] },
			// A deleted product's review pages go with it.
			{ tag: "reviews:product:{id}", on: ["delete"] },
		],
	},
	{
		table: reviews,
		tags: [{ tag: "product:{product_id}" }, { tag: "reviews:product:{product_id}" }],
	},
]);
