import type { NoteRow } from "./db/notes";
import { tags } from "./tags";

type LabelRef = { id: number; slug: string; name: string };

/** A note as the API shows it, and the tags of everything shown: the note, its author, its labels. */
export function presentNote(row: NoteRow) {
	const labels = JSON.parse(row.labels) as LabelRef[];
	return {
		note: {
			id: row.id,
			title: row.title,
			body: row.body,
			author: { id: row.authorId, handle: row.authorHandle, name: row.authorName },
			labels: labels.map(({ slug, name }) => ({ slug, name })),
			createdAt: row.createdAt,
			updatedAt: row.updatedAt,
		},
		tags: [tags.note(row.id), tags.author(row.authorId), ...labels.map((l) => tags.label(l.id))],
		labelIds: labels.map((l) => l.id),
	};
}

/** A page of notes (the query asked for one row more than the page) and the tags of every note on it. */
export function presentPage(rows: NoteRow[], page: { page: number; limit: number }) {
	const shown = rows.slice(0, page.limit).map(presentNote);
	return {
		body: {
			data: shown.map((s) => s.note),
			page: page.page,
			limit: page.limit,
			next: rows.length > page.limit ? page.page + 1 : null,
		},
		tags: shown.flatMap((s) => s.tags),
	};
}
