import { defineInvalidation } from "tiercache/migrations";
import { authors, labels, noteLabels, notes } from "./db/schema";

/**
 * Which tags a row change bumps, per table: the source of
 * migrations/0002_triggers.sql (`npm run db:triggers` writes it;
 * scripts/test-example.mjs checks it is current). src/tags.ts names the same
 * tags for reads and for `afterWrite`.
 */
export default defineInvalidation([
	{
		// An author's name shows on their page and on every note of theirs, in any list.
		table: authors,
		tags: [{ tag: "author:{id}" }],
	},
	{
		table: notes,
		tags: [
			{ tag: "note:{id}" },
			// The newest-first list changes with membership and order; a shown note's
			// other edits reach the list through its own tag.
			{ tag: "notes", whenChanged: ["created_at"] },
			{ tag: "notes:author:{author_id}", whenChanged: ["author_id", "created_at"] },
		],
	},
	{
		table: labels,
		tags: [{ tag: "labels" }, { tag: "label:{id}" }],
	},
	{
		// Labelling a note changes the note, the label's list, and the label counts.
		table: noteLabels,
		tags: [{ tag: "note:{note_id}" }, { tag: "notes:label:{label_id}" }, { tag: "labels" }],
	},
]);
