import { Hono } from "hono";
import { writeScope } from "tiercache";
import { z } from "zod";
import type { NotesDeps } from "../cache";
import { authorById } from "../db/authors";
import { createDb, type Db } from "../db/client";
import { labelBySlug, labelsBySlugs } from "../db/labels";
import { clearNoteLabels, deleteNote, insertNote, labelNote, listNotes, noteById, updateNote } from "../db/notes";
import type { AppEnv } from "../env";
import { adminAuth } from "../http/admin-auth";
import { ApiError } from "../http/errors";
import { valid } from "../http/validate";
import { presentNote, presentPage } from "../present";
import { noteChangeTags, tags } from "../tags";

export const Slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "lowercase letters, digits and dashes");
export const IdParam = z.object({ id: z.coerce.number().int().positive() });
export const PageQuery = z.strictObject({
	page: z.coerce.number().int().min(1).max(1_000).default(1),
	limit: z.coerce.number().int().min(1).max(50).default(20),
});
const NotesQuery = PageQuery.extend({ label: Slug.optional() });
const NoteCreate = z.strictObject({
	authorId: z.number().int().positive(),
	title: z.string().trim().min(1).max(200),
	body: z.string().max(10_000).default(""),
	labels: z.array(Slug).max(10).default([]),
});
const NotePatch = z
	.strictObject({
		authorId: z.number().int().positive(),
		title: z.string().trim().min(1).max(200),
		body: z.string().max(10_000),
		labels: z.array(Slug).max(10),
	})
	.partial()
	.refine((patch) => Object.keys(patch).length > 0, "change at least one field");

const notFound = (message: string) => ({ error: { code: "not_found", message } });

export function noteRoutes({ cache, policies }: NotesDeps) {
	return (
		new Hono<AppEnv>()
			.get("/v1/notes", valid("query", NotesQuery), (c) => {
				const { label, ...page } = c.req.valid("query");
				return cache.read(c, policies.notes, async (origin) => {
					if (label === undefined) {
						const [rows] = await origin.batch([listNotes(origin.db, page)]);
						const shown = presentPage(rows, page);
						return { status: 200 as const, body: shown.body, tags: [tags.notes, ...shown.tags] };
					}
					const [[found], rows] = await origin.batch([
						labelBySlug(origin.db, label),
						listNotes(origin.db, page, { labelSlug: label }),
					]);
					// Tagged `labels`: creating the label turns this 404 into a list.
					if (!found) return { status: 404 as const, body: notFound(`no label '${label}'`), tags: [tags.labels] };
					const shown = presentPage(rows, page);
					// `notes` as well: the order is the notes' (created_at), which only `notes` follows.
					const listTags = [tags.notes, tags.labelNotes(found.id), tags.label(found.id)];
					return { status: 200 as const, body: shown.body, tags: [...listTags, ...shown.tags] };
				});
			})

			.get("/v1/notes/:id", valid("param", IdParam), (c) => {
				const { id } = c.req.valid("param");
				return cache.read(c, policies.note, async (origin) => {
					const [[row]] = await origin.batch([noteById(origin.db, id)]);
					// Tagged as the note would be: creating it invalidates this 404.
					if (!row) return { status: 404 as const, body: notFound(`no note with id ${id}`), tags: [tags.note(id)] };
					const shown = presentNote(row);
					return { status: 200 as const, body: { data: shown.note }, tags: shown.tags };
				});
			})

			// Admin writes: each commits in one D1 batch (its triggers bump the tags
			// in the same transaction), then tells the cache which tags changed.
			.post("/v1/notes", adminAuth(), valid("json", NoteCreate), async (c) => {
				const input = c.req.valid("json");
				const db = createDb(c.env.DB);
				const labelIds = await existingLabels(db, input.labels);
				await existingAuthor(db, input.authorId);
				const [[note]] = await db.batch([insertNote(db, input), labelNote(db, "inserted", input.labels)]);
				if (!note) throw new ApiError(503, "the note was not stored");
				await cache.afterWrite(c.env, noteChangeTags(note.id, [note.authorId], labelIds), writeScope(c));
				const [row] = await noteById(db, note.id);
				if (!row) throw new ApiError(404, `no note with id ${note.id}`);
				c.header("Location", `/v1/notes/${note.id}`);
				return c.json({ data: presentNote(row).note }, 201);
			})

			.patch("/v1/notes/:id", adminAuth(), valid("param", IdParam), valid("json", NotePatch), async (c) => {
				const { id } = c.req.valid("param");
				const { labels, ...fields } = c.req.valid("json");
				const db = createDb(c.env.DB);
				const newLabelIds = labels ? await existingLabels(db, labels) : [];
				if (fields.authorId !== undefined) await existingAuthor(db, fields.authorId);
				// The note before and the update, in one transaction: the tags of both are invalidated.
				const [[before], [after]] = labels
					? await db.batch([
							noteById(db, id),
							updateNote(db, id, fields),
							clearNoteLabels(db, id),
							labelNote(db, id, labels),
						])
					: await db.batch([noteById(db, id), updateNote(db, id, fields)]);
				if (!before || !after) throw new ApiError(404, `no note with id ${id}`);
				const oldLabelIds = presentNote(before).labelIds;
				const changed = noteChangeTags(id, [before.authorId, after.authorId], [...oldLabelIds, ...newLabelIds]);
				await cache.afterWrite(c.env, changed, writeScope(c));
				const [row] = await noteById(db, id);
				if (!row) throw new ApiError(404, `no note with id ${id}`);
				return c.json({ data: presentNote(row).note }, 200);
			})

			.delete("/v1/notes/:id", adminAuth(), valid("param", IdParam), async (c) => {
				const { id } = c.req.valid("param");
				const db = createDb(c.env.DB);
				const [[before]] = await db.batch([noteById(db, id), deleteNote(db, id)]);
				if (!before) throw new ApiError(404, `no note with id ${id}`);
				const changed = noteChangeTags(id, [before.authorId], presentNote(before).labelIds);
				await cache.afterWrite(c.env, changed, writeScope(c));
				return c.body(null, 204);
			})
	);
}

/** The ids of the labels named, or 400 naming the unknown ones. */
async function existingLabels(db: Db, slugs: readonly string[]): Promise<number[]> {
	if (slugs.length === 0) return [];
	const found = await labelsBySlugs(db, slugs);
	const unknown = slugs.filter((slug) => !found.some((label) => label.slug === slug));
	if (unknown.length > 0) throw new ApiError(400, `no label ${unknown.map((s) => `'${s}'`).join(", ")}`);
	return found.map((label) => label.id);
}

async function existingAuthor(db: Db, id: number): Promise<void> {
	const [author] = await authorById(db, id);
	if (!author) throw new ApiError(400, `no author with id ${id}`);
}
