import { beforeEach, describe, expect, it } from "vitest";
import { cacheStatus, handleAllBumps, json, seedNotes, testApp, unhandledTags } from "./helpers";

beforeEach(async () => {
	await seedNotes();
	await handleAllBumps();
});

type Note = { id: number; title: string; author: { name: string }; labels: { slug: string }[] };
type NoteList = { data: Note[] };
type Labels = { data: { slug: string; notes: number }[] };

describe("an admin write through the API", () => {
	it("makes the next read of the note and of the lists showing it fresh", async () => {
		const { request, write } = testApp();
		await request("/v1/notes/1");
		await request("/v1/notes");
		expect((await write("PATCH", "/v1/notes/1", { title: "Engines, revised" })).status).toBe(200);
		const note = await request("/v1/notes/1");
		expect(cacheStatus(note)).toContain("tiercache-memory; fwd=miss; detail=invalidated");
		expect((await json<{ data: Note }>(note)).data.title).toBe("Engines, revised");
		const list = await json<NoteList>(await request("/v1/notes"));
		expect(list.data.find((n) => n.id === 1)?.title).toBe("Engines, revised");
	});

	it("renaming an author (authors) refreshes note lists and notes (built from notes)", async () => {
		const { request, write } = testApp();
		for (const path of ["/v1/notes", "/v1/notes/3", "/v1/notes?label=todo"]) await request(path);
		expect(cacheStatus(await request("/v1/notes"))).toContain("tiercache-memory; hit");
		expect((await write("PATCH", "/v1/authors/1", { name: "Augusta Ada King" })).status).toBe(200);
		const list = await request("/v1/notes");
		expect(cacheStatus(list)).toContain("detail=invalidated");
		const names = (await json<NoteList>(list)).data.map((n) => n.author.name);
		expect(names).toEqual(["Augusta Ada King", "Grace Hopper", "Augusta Ada King"]);
		expect((await json<{ data: Note }>(await request("/v1/notes/3"))).data.author.name).toBe("Augusta Ada King");
		// A list the author is not in keeps its entry.
		expect(cacheStatus(await request("/v1/notes?label=todo"))).toContain("tiercache-memory; hit");
	});

	it("creating a labelled note refreshes the label's list, the counts and the author's page", async () => {
		const { request, write } = testApp();
		for (const path of ["/v1/notes?label=todo", "/v1/labels", "/v1/authors/2", "/v1/notes/4"]) await request(path);
		const created = await write("POST", "/v1/notes", { authorId: 2, title: "Nanoseconds", labels: ["todo"] });
		expect(created.status).toBe(201);
		expect(created.headers.get("Location")).toBe("/v1/notes/4");
		const todo = await json<NoteList>(await request("/v1/notes?label=todo"));
		expect(todo.data.map((n) => n.id)).toEqual([4, 2]);
		const labels = await json<Labels>(await request("/v1/labels"));
		expect(labels.data).toEqual([
			{ slug: "ideas", name: "Ideas", notes: 2 },
			{ slug: "todo", name: "To do", notes: 2 },
		]);
		const author = await json<{ notes: NoteList }>(await request("/v1/authors/2"));
		expect(author.notes.data.map((n) => n.id)).toEqual([4, 2]);
		// The cached 404 was tagged as the note would be.
		expect((await request("/v1/notes/4")).status).toBe(200);
	});

	it("relabelling and deleting refresh the lists the note leaves", async () => {
		const { request, write } = testApp();
		await request("/v1/notes?label=ideas");
		await write("PATCH", "/v1/notes/2", { labels: ["todo"] });
		const ideas = await json<NoteList>(await request("/v1/notes?label=ideas"));
		expect(ideas.data.map((n) => n.id)).toEqual([1]);
		expect((await write("DELETE", "/v1/notes/1")).status).toBe(204);
		expect((await json<NoteList>(await request("/v1/notes?label=ideas"))).data).toEqual([]);
		expect((await request("/v1/notes/1")).status).toBe(404);
	});

	it("names every tag its triggers bumped: none is left for the cron", async () => {
		// afterWrite hands the tags the route names to the edge purge and marks
		// them handled; a tag the triggers bumped but the route forgot stays unhandled.
		const { write } = testApp();
		await write("POST", "/v1/notes", { authorId: 1, title: "Diagrams", labels: ["ideas", "todo"] });
		await write("PATCH", "/v1/notes/2", { authorId: 1, labels: ["ideas"] });
		await write("PATCH", "/v1/authors/2", { name: "Rear Admiral Hopper" });
		await write("DELETE", "/v1/notes/3");
		expect(await unhandledTags()).toEqual([]);
	});

	it("refuses writes without the admin token, and bad input, without touching the cache", async () => {
		const { request, write } = testApp();
		await request("/v1/notes/1");
		const anonymous = await request("/v1/notes/1", {
			method: "PATCH",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ title: "x" }),
		});
		expect(anonymous.status).toBe(401);
		expect((await write("PATCH", "/v1/notes/1", { labels: ["nope"] })).status).toBe(400);
		expect((await write("POST", "/v1/notes", { authorId: 9, title: "Orphan" })).status).toBe(400);
		expect((await write("PATCH", "/v1/notes/99", { labels: ["todo"] })).status).toBe(404);
		expect(cacheStatus(await request("/v1/notes/1"))).toContain("tiercache-memory; hit");
	});
});
