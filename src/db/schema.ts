import { sql } from "drizzle-orm";
import { check, index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const categories = sqliteTable("categories", {
	id: integer("id").primaryKey({ autoIncrement: true }),
	slug: text("slug").notNull().unique(),
	name: text("name").notNull(),
	description: text("description").notNull().default(""),
	createdAt: text("created_at").notNull().default(now),
	updatedAt: text("updated_at").notNull().default(now),
});

export const products = sqliteTable(
	"products",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		sku: text("sku").notNull().unique(),
		slug: text("slug").notNull().unique(),
		name: text("name").notNull(),
		description: text("description").notNull().default(""),
		priceCents: integer("price_cents").notNull(),
		currency: text("currency").notNull().default("USD"),
		categoryId: integer("category_id")
			.notNull()
			.references(() => categories.id, { onDelete: "restrict" }),
		stock: integer("stock").notNull().default(0),
		// Rating summary, maintained in the same D1 batch as every review write.
		ratingCount: integer("rating_count").notNull().default(0),
		ratingSum: integer("rating_sum").notNull().default(0),
		ratingAverage: real("rating_average").notNull().default(0),
		createdAt: text("created_at").notNull().default(now),
		updatedAt: text("updated_at").notNull().default(now),
	},
	(t) => [
		// One index per sort, globally and within a category (the only filter).
		// SQLite appends the rowid to every index, so `ORDER BY x, id` is covered.
		index("products_created_idx").on(t.createdAt),
		index("products_name_idx").on(t.name),
		index("products_price_idx").on(t.priceCents),
		index("products_rating_idx").on(t.ratingAverage),
		index("products_category_created_idx").on(t.categoryId, t.createdAt),
		index("products_category_name_idx").on(t.categoryId, t.name),
		index("products_category_price_idx").on(t.categoryId, t.priceCents),
		index("products_category_rating_idx").on(t.categoryId, t.ratingAverage),
		check("products_price_nonnegative", sql`${t.priceCents} >= 0`),
		check("products_stock_nonnegative", sql`${t.stock} >= 0`),
	],
);

export const reviews = sqliteTable(
	"reviews",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		productId: integer("product_id")
			.notNull()
			.references(() => products.id, { onDelete: "cascade" }),
		rating: integer("rating").notNull(),
		title: text("title").notNull().default(""),
		body: text("body").notNull().default(""),
		author: text("author").notNull().default("anonymous"),
		createdAt: text("created_at").notNull().default(now),
	},
	(t) => [
		index("reviews_product_created_idx").on(t.productId, t.createdAt),
		check("reviews_rating_range", sql`${t.rating} BETWEEN 1 AND 5`),
	],
);

export type Category = typeof categories.$inferSelect;
export type Product = typeof products.$inferSelect;
export type Review = typeof reviews.$inferSelect;
