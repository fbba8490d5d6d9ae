import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { cacheStatus, handleAllBumps, json, seedNotes, testApp, unhandledTags } from "./helpers";

beforeEach(async () => {
	await seedNotes();
	await handleAllBumps();
});

type Note = { id: number; title: string; author: { name: string }; labels: { slug: string }[] };
type NoteList = { data: Note[] };

// Writes made with SQL behind the API's back (wrangler d1 execute, another
// service): the triggers bump the tags in the write's own transaction, and
// every isolate's view of those bumps is at most a second old.
describe("a write behind the API's back", () => {
	it("to authors: note lists show the new name within a second", async () => {
		const { request, advance } = testApp();
		await request("/v1/notes");
		expect(cacheStatus(await request("/v1/notes"))).toContain("tiercache-memory; hit");
		await env.DB.prepare("UPDATE authors SET name = 'Countess of Lovelace' WHERE id = 1").run();
		advance(1_000);
		const list = await request("/v1/notes");
		expect(cacheStatus(list)).toContain("tiercache-memory; fwd=miss; detail=invalidated");
		expect((await json<NoteList>(list)).data.map((n) => n.author.name)).toEqual([
			"Countess of Lovelace",
			"Grace Hopper",
			"Countess of Lovelace",
		]);
	});

	it("to note_labels: the label's list and the note pick it up within a second", async () => {
		const { request, advance } = testApp();
		await request("/v1/notes?label=todo");
		await request("/v1/notes/3");
		await env.DB.prepare("INSERT INTO note_labels (note_id, label_id) VALUES (3, 2)").run();
		advance(1_000);
		const todo = await json<NoteList>(await request("/v1/notes?label=todo"));
		expect(todo.data.map((n) => n.id)).toEqual([3, 2]);
		const note = await json<{ data: Note }>(await request("/v1/notes/3"));
		expect(note.data.labels.map((l) => l.slug)).toEqual(["todo"]);
	});

	it("deleting a label: its cascade reaches every note that carried it", async () => {
		const { request, advance } = testApp();
		await request("/v1/notes/2");
		await request("/v1/notes?label=todo");
		await env.DB.prepare("DELETE FROM labels WHERE slug = 'todo'").run();
		advance(1_000);
		const note = await json<{ data: Note }>(await request("/v1/notes/2"));
		expect(note.data.labels.map((l) => l.slug)).toEqual(["ideas"]);
		expect((await request("/v1/notes?label=todo")).status).toBe(404);
	});

	it("is handed to the edge purge by the cron (scheduled runs cache.sweep)", async () => {
		await env.DB.prepare("UPDATE notes SET title = 'Engines (draft)' WHERE id = 1").run();
		expect(await unhandledTags()).toEqual(["note:1"]);
		// The handler finishes its work before it returns.
		await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env);
		expect(await unhandledTags()).toEqual([]);
	});
});
