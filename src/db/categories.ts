import { asc, eq } from "drizzle-orm";
import type { Db } from "./client";
import { type PageRequest, pageWindow } from "./pagination";
import { type Category, categories } from "./schema";

export type CategoryInput = { slug: string; name: string; description?: string };
export type CategoryPatch = Partial<CategoryInput>;

/** One page of categories by name. Batchable: pass the un-awaited query to `db.batch`. */
export function listCategories(db: Db, page: PageRequest) {
	const { limit, offset } = pageWindow(page);
	return db.select().from(categories).orderBy(asc(categories.name), asc(categories.id)).limit(limit).offset(offset);
}

export function categoryBySlug(db: Db, slug: string) {
	return db.select().from(categories).where(eq(categories.slug, slug)).limit(1);
}

export function categoryById(db: Db, id: number) {
	return db.select().from(categories).where(eq(categories.id, id)).limit(1);
}

export async function insertCategory(db: Db, input: CategoryInput): Promise<Category> {
	const [row] = await db.insert(categories).values(input).returning();
	return row as Category;
}

/** Returns the updated row, or undefined when no category has that slug. */
export async function updateCategory(db: Db, slug: string, patch: CategoryPatch): Promise<Category | undefined> {
	const [row] = await db
		.update(categories)
		.set({ ...patch, updatedAt: new Date().toISOString() })
		.where(eq(categories.slug, slug))
		.returning();
	return row;
}
