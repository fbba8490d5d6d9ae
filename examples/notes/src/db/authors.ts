import { eq } from "drizzle-orm";
import type { Db } from "./client";
import { authors } from "./schema";

export function authorById(db: Db, id: number) {
	return db.select().from(authors).where(eq(authors.id, id));
}

export function renameAuthor(db: Db, id: number, name: string) {
	return db.update(authors).set({ name }).where(eq(authors.id, id)).returning();
}
