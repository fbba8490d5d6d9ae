import { beforeEach, describe, expect, it } from "vitest";
import { cacheStatus, json, seedNotes, testApp } from "./helpers";

beforeEach(seedNotes);

type NoteList = { data: { id: number; title: string; author: { name: string }; labels: { slug: string }[] }[] };

describe("reads through the tiers", () => {
	it.each(["/v1/notes", "/v1/notes?label=ideas", "/v1/notes/2", "/v1/authors/1", "/v1/labels"])(
		"%s: the first read loads from D1, the second is a memory hit with the same body",
		async (path) => {
			const { request } = testApp();
			const first = await request(path);
			expect(first.status).toBe(200);
			expect(cacheStatus(first)).toContain("tiercache-memory; fwd=miss; stored");
			const second = await request(path);
			expect(cacheStatus(second)).toContain("tiercache-memory; hit");
			expect(await second.json()).toEqual(await first.json());
		},
	);

	it("answers a list built from three tables: notes newest first, with their authors and labels", async () => {
		const { request } = testApp();
		const body = await json<NoteList>(await request("/v1/notes"));
		expect(body.data.map((n) => [n.id, n.author.name, n.labels.map((l) => l.slug)])).toEqual([
			[3, "Ada Lovelace", []],
			[2, "Grace Hopper", ["ideas", "todo"]],
			[1, "Ada Lovelace", ["ideas"]],
		]);
		const todo = await json<NoteList>(await request("/v1/notes?label=todo"));
		expect(todo.data.map((n) => n.id)).toEqual([2]);
	});

	it("names every row an answer read in Cache-Tag, for the edge in front", async () => {
		const { request } = testApp();
		const res = await request("/v1/notes?label=todo");
		const tags = (res.headers.get("Cache-Tag") ?? "").split(",");
		expect(tags).toEqual(
			expect.arrayContaining(["notes", "notes:label:2", "note:2", "author:2", "label:1", "label:2"]),
		);
	});

	it("caches a 404 too, tagged so that creating the row ends it", async () => {
		const { request } = testApp();
		expect((await request("/v1/notes/99")).status).toBe(404);
		const again = await request("/v1/notes/99");
		expect(again.status).toBe(404);
		expect(cacheStatus(again)).toContain("tiercache-memory; hit");
	});

	it("serves another isolate at this location from the Cache API or KV, not from D1", async () => {
		const one = testApp({ keys: "shared-author-page" });
		await one.request("/v1/authors/1");
		// A second engine with the same keys: an isolate that has nothing in memory.
		const other = testApp({ keys: "shared-author-page" });
		const res = await other.request("/v1/authors/1");
		expect(cacheStatus(res)).toContain("tiercache-memory; fwd=miss");
		expect(cacheStatus(res)).toMatch(/tiercache-(colo|kv); hit/);
		expect(other.app.cache.snapshot().origin.loads).toBe(0);
	});
});
