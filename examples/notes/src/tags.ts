// The tags of the notes API. Reads name every tag their answer depends on;
// writes hand the tags their triggers bumped (src/invalidation.ts) to `afterWrite`.
export const tags = {
	notes: "notes",
	note: (id: number) => `note:${id}`,
	author: (id: number) => `author:${id}`,
	authorNotes: (authorId: number) => `notes:author:${authorId}`,
	labels: "labels",
	label: (id: number) => `label:${id}`,
	labelNotes: (labelId: number) => `notes:label:${labelId}`,
} as const;

/**
 * The tags a change to a note may have bumped: the note, the lists it is or
 * was in (its authors', its labels', the newest-first list), and the label counts.
 * Tags the triggers did not bump are read back unchanged and cost nothing.
 */
export function noteChangeTags(id: number, authorIds: readonly number[], labelIds: readonly number[]): string[] {
	return [
		tags.note(id),
		tags.notes,
		...authorIds.map(tags.authorNotes),
		...labelIds.map(tags.labelNotes),
		...(labelIds.length > 0 ? [tags.labels] : []),
	];
}
