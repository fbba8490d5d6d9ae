import { Hono } from "hono";
import type { NotesDeps } from "../cache";
import { labelsWithCounts } from "../db/labels";
import type { AppEnv } from "../env";
import { tags } from "../tags";

export function labelRoutes({ cache, policies }: NotesDeps) {
	// The counts come from note_labels, whose trigger bumps `labels` too.
	return new Hono<AppEnv>().get("/v1/labels", (c) =>
		cache.read(c, policies.labels, async (origin) => {
			const [rows] = await origin.batch([labelsWithCounts(origin.db)]);
			return { status: 200 as const, body: { data: rows }, tags: [tags.labels] };
		}),
	);
}
