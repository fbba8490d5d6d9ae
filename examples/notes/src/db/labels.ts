import { asc, count, eq, inArray } from "drizzle-orm";
import type { Db } from "./client";
import { labels, noteLabels } from "./schema";

/** Every label with how many notes carry it. */
export function labelsWithCounts(db: Db) {
	return db
		.select({ slug: labels.slug, name: labels.name, notes: count(noteLabels.noteId) })
		.from(labels)
		.leftJoin(noteLabels, eq(noteLabels.labelId, labels.id))
		.groupBy(labels.id)
		.orderBy(asc(labels.slug));
}

export function labelBySlug(db: Db, slug: string) {
	return db.select().from(labels).where(eq(labels.slug, slug));
}

export function labelsBySlugs(db: Db, slugs: readonly string[]) {
	return db
		.select()
		.from(labels)
		.where(inArray(labels.slug, [...slugs]));
}
