import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const authors = sqliteTable("authors", {
	id: integer("id").primaryKey({ autoIncrement: true }),
	handle: text("handle").notNull().unique(),
	name: text("name").notNull(),
});

export const notes = sqliteTable(
	"notes",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		authorId: integer("author_id")
			.notNull()
			.references(() => authors.id, { onDelete: "restrict" }),
		title: text("title").notNull(),
		body: text("body").notNull().default(""),
		createdAt: text("created_at").notNull().default(now),
		updatedAt: text("updated_at").notNull().default(now),
	},
	(t) => [index("notes_created_idx").on(t.createdAt), index("notes_author_created_idx").on(t.authorId, t.createdAt)],
);

export const labels = sqliteTable("labels", {
	id: integer("id").primaryKey({ autoIncrement: true }),
	slug: text("slug").notNull().unique(),
	name: text("name").notNull(),
});

export const noteLabels = sqliteTable(
	"note_labels",
	{
		noteId: integer("note_id")
			.notNull()
			.references(() => notes.id, { onDelete: "cascade" }),
		labelId: integer("label_id")
			.notNull()
			.references(() => labels.id, { onDelete: "cascade" }),
	},
	(t) => [primaryKey({ columns: [t.noteId, t.labelId] }), index("note_labels_label_idx").on(t.labelId)],
);

export type Author = typeof authors.$inferSelect;
export type Note = typeof notes.$inferSelect;
export type Label = typeof labels.$inferSelect;
