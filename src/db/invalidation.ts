import { defineInvalidation } from "tiercache/migrations";
import { categories, products, reviews } from "./schema";

/**
 * Which tags a row change bumps, per cached table: the source of the
 * invalidation triggers (`npm run db:triggers` writes
 * migrations/0007_invalidation_triggers.sql; CI checks it is current).
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
			// Listings change only with what decides membership and order: sort keys, id, category.
			{
				tag: "products",
				whenChanged: ["id", "created_at", "name", "price_cents", "rating_average", "category_id"],
			},
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
