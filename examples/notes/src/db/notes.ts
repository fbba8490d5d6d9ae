import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./client";
import { authors, labels, noteLabels, notes } from "./schema";

export interface PageRequest {
	page: number;
	limit: number;
}

/** A note's labels as a JSON array, read in the same statement as the note. */
const labelsJson =
	sql<string>`(SELECT json_group_array(json_object('id', l.id, 'slug', l.slug, 'name', l.name)) FROM (SELECT labels.id, labels.slug, labels.name FROM note_labels JOIN labels ON labels.id = note_labels.label_id WHERE note_labels.note_id = ${notes.id} ORDER BY labels.slug) AS l)`.as(
		"labels",
	);

// Every column name distinct (`authors.id` is read as `notes.author_id`): drizzle's
// D1 batch maps result columns by name, so a repeated name would shift the values.
const noteColumns = {
	id: notes.id,
	title: notes.title,
	body: notes.body,
	createdAt: notes.createdAt,
	updatedAt: notes.updatedAt,
	authorId: notes.authorId,
	authorHandle: authors.handle,
	authorName: authors.name,
	labels: labelsJson,
};

/** A note with its author and labels (JSON), as every note query returns it. */
export type NoteRow = Awaited<ReturnType<typeof noteById>>[number];

/** Newest first, one more row than the page (to know whether another follows); optionally only an author's or a label's. */
export function listNotes(db: Db, page: PageRequest, filter: { authorId?: number; labelSlug?: string } = {}) {
	const labelled =
		filter.labelSlug === undefined
			? undefined
			: inArray(
					notes.id,
					db
						.select({ id: noteLabels.noteId })
						.from(noteLabels)
						.innerJoin(labels, eq(labels.id, noteLabels.labelId))
						.where(eq(labels.slug, filter.labelSlug)),
				);
	return db
		.select(noteColumns)
		.from(notes)
		.innerJoin(authors, eq(authors.id, notes.authorId))
		.where(and(filter.authorId === undefined ? undefined : eq(notes.authorId, filter.authorId), labelled))
		.orderBy(desc(notes.createdAt), desc(notes.id))
		.limit(page.limit + 1)
		.offset((page.page - 1) * page.limit);
}

export function noteById(db: Db, id: number) {
	return db.select(noteColumns).from(notes).innerJoin(authors, eq(authors.id, notes.authorId)).where(eq(notes.id, id));
}

export function insertNote(db: Db, values: { authorId: number; title: string; body: string }) {
	return db.insert(notes).values(values).returning();
}

export function updateNote(db: Db, id: number, patch: { authorId?: number; title?: string; body?: string }) {
	return db
		.update(notes)
		.set({ ...patch, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))` })
		.where(eq(notes.id, id))
		.returning();
}

export function deleteNote(db: Db, id: number) {
	return db.delete(notes).where(eq(notes.id, id)).returning();
}

export function labelIdsOfNote(db: Db, noteId: number) {
	return db.select({ labelId: noteLabels.labelId }).from(noteLabels).where(eq(noteLabels.noteId, noteId));
}

export function clearNoteLabels(db: Db, noteId: number) {
	return db.delete(noteLabels).where(eq(noteLabels.noteId, noteId));
}

/**
 * Labels a note with the labels named (unknown slugs are the route's to
 * refuse); a note that does not exist gets none. `"inserted"`: the note the
 * statement before it in the same batch inserted — the newest id, as D1 runs
 * a batch as one transaction.
 */
export function labelNote(db: Db, noteId: number | "inserted", slugs: readonly string[]) {
	const note = noteId === "inserted" ? sql<number>`(SELECT max(${notes.id}) FROM ${notes})` : sql<number>`${noteId}`;
	return db.insert(noteLabels).select(
		db
			.select({ noteId: notes.id, labelId: labels.id })
			.from(labels)
			.innerJoin(notes, eq(notes.id, note))
			.where(inArray(labels.slug, [...slugs])),
	);
}
