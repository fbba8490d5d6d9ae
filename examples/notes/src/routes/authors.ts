import { Hono } from "hono";
import { writeScope } from "tiercache";
import { z } from "zod";
import type { NotesDeps } from "../cache";
import { authorById, renameAuthor } from "../db/authors";
import { createDb } from "../db/client";
import { listNotes } from "../db/notes";
import type { AppEnv } from "../env";
import { adminAuth } from "../http/admin-auth";
import { ApiError } from "../http/errors";
import { valid } from "../http/validate";
import { presentPage } from "../present";
import { tags } from "../tags";
import { IdParam, PageQuery } from "./notes";

const AuthorPatch = z.strictObject({ name: z.string().trim().min(1).max(100) });

export function authorRoutes({ cache, policies }: NotesDeps) {
	return (
		new Hono<AppEnv>()
			// An author with a page of their notes: built from two tables, one batch.
			.get("/v1/authors/:id", valid("param", IdParam), valid("query", PageQuery), (c) => {
				const { id } = c.req.valid("param");
				const page = c.req.valid("query");
				return cache.read(c, policies.author, async (origin) => {
					const [[author], rows] = await origin.batch([
						authorById(origin.db, id),
						listNotes(origin.db, page, { authorId: id }),
					]);
					if (!author) {
						const body = { error: { code: "not_found", message: `no author with id ${id}` } };
						return { status: 404 as const, body, tags: [tags.author(id)] };
					}
					const shown = presentPage(rows, page);
					return {
						status: 200 as const,
						body: { data: { id: author.id, handle: author.handle, name: author.name }, notes: shown.body },
						tags: [tags.author(id), tags.authorNotes(id), ...shown.tags],
					};
				});
			})

			// Renaming an author changes every note list that shows them: the
			// `authors` trigger bumps `author:{id}`, which those lists carry.
			.patch("/v1/authors/:id", adminAuth(), valid("param", IdParam), valid("json", AuthorPatch), async (c) => {
				const { id } = c.req.valid("param");
				const { name } = c.req.valid("json");
				const db = createDb(c.env.DB);
				// The rename and the tag's seq in one transaction: afterWrite needs no D1 round trip of its own.
				const changed = [tags.author(id)];
				const { results, snapshot } = await cache.batch(db, [renameAuthor(db, id, name)], { tags: changed });
				const [[author]] = results;
				if (!author) throw new ApiError(404, `no author with id ${id}`);
				await cache.afterWrite(c.env, changed, writeScope(c), snapshot);
				return c.json({ data: author }, 200);
			})
	);
}
