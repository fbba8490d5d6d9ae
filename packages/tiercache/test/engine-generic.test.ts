import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { createTierCache } from "../src/tier-cache.js";

// An app that is not the catalog: the engine needs nothing of it but a loader.
const notes = sqliteTable("notes", { id: integer("id").primaryKey(), text: text("text").notNull() });
type Bindings = { DB: D1Database; CACHE_KV: KVNamespace };

function deferred() {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => {
		resolve = r;
	});
	return { promise, resolve };
}

function notesApp(
	name: string,
	setHeader?: [string, string],
	{ memoryBytes, tiers }: { memoryBytes?: number; tiers?: ("memory" | "colo" | "kv")[] } = {},
) {
	const clock = { now: Date.now() };
	const cache = createTierCache<{ Bindings: Bindings }, ReturnType<typeof drizzle>>({
		database: (e) => e.DB,
		kv: (e) => e.CACHE_KV,
		createDb: (d1) => drizzle(d1),
		version: () => name,
		cacheName: name,
		memoryBytes,
		now: () => clock.now,
	});
	const policy = cache.policy({ name: "note", ttl: 30, staleWhileRevalidate: 0, ...(tiers ? { tiers } : {}) });
	let gate: Promise<void> | undefined;
	let reached = deferred();
	const app = new Hono<{ Bindings: Bindings }>();
	if (setHeader) {
		app.use(async (c, next) => {
			c.header(...setHeader);
			await next();
		});
	}
	app.get("/notes/:id", (c) =>
		cache.read(c, policy, async (origin) => {
			const id = Number(c.req.param("id"));
			const [[row]] = await origin.batch([origin.db.select().from(notes).where(eq(notes.id, id))]);
			reached.resolve(); // the batch (data and cache_seq) is done
			if (gate) await gate;
			return row
				? { status: 200 as const, body: row, tags: [`note:${id}`] }
				: { status: 404 as const, body: { missing: id }, tags: [`note:${id}`] };
		}),
	);
	async function request(path: string) {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request(`http://notes.test${path}`), env, ctx);
		await waitOnExecutionContext(ctx);
		return res;
	}
	return {
		cache,
		clock,
		request,
		hold: (p: Promise<void> | undefined) => {
			gate = p;
			reached = deferred();
		},
		reached: () => reached.promise,
	};
}

beforeAll(async () => {
	await env.DB.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
	await env.DB.exec("INSERT INTO notes (id, text) VALUES (1, 'one'), (2, 'two')");
});

describe("the engine on any Hono + D1 app", () => {
	it("caches by the router's path parameters when the route has no validator", async () => {
		const n = notesApp("generic-keys");
		expect(await (await n.request("/notes/1")).json()).toEqual({ id: 1, text: "one" });
		expect(await (await n.request("/notes/2")).json()).toEqual({ id: 2, text: "two" });
		expect(await (await n.request("/notes/1")).json()).toEqual({ id: 1, text: "one" });
		expect(n.cache.stats.origin.loads).toBe(2);
		// Unvalidated query parameters are all part of the key.
		await n.request("/notes/1?x=1");
		await n.request("/notes/1?x=2");
		expect(n.cache.stats.origin.loads).toBe(4);
	});

	it("shares one origin load among concurrent misses for a key (single-flight)", async () => {
		const n = notesApp("generic-flight");
		const gate = deferred();
		n.hold(gate.promise);
		const responses = Array.from({ length: 8 }, () => n.request("/notes/2"));
		for (let i = 0; i < 200 && n.cache.stats.origin.coalesced < 7; i++) await scheduler.wait(1);
		gate.resolve();
		const bodies = await Promise.all(responses.map(async (r) => (await r).text()));
		expect(n.cache.stats.origin.loads).toBe(1);
		expect(n.cache.stats.origin.coalesced).toBe(7);
		expect(new Set(bodies)).toEqual(new Set(['{"id":2,"text":"two"}']));
	});

	it("rejects a fill that raced with a write: its readSeq predates the invalidation", async () => {
		const n = notesApp("generic-race");
		const gate = deferred();
		n.hold(gate.promise);
		const inFlight = n.request("/notes/1"); // reads 'one' and cache_seq, then waits
		await n.reached();
		await env.DB.prepare("UPDATE notes SET text = 'uno' WHERE id = 1").run();
		await n.cache.invalidateTags(env, ["note:1"]);
		gate.resolve();
		n.hold(undefined);
		expect(await (await inFlight).json()).toEqual({ id: 1, text: "one" }); // answered as read
		const next = await n.request("/notes/1");
		expect(await next.json()).toEqual({ id: 1, text: "uno" }); // the late-stored entry is rejected
		expect(next.headers.get("Cache-Status")).toMatch(/memory; fwd=miss; detail=invalidated/);
	});
});

describe("origin loads by cause", () => {
	it("tells cold, expired, invalidated and evicted apart", async () => {
		// Memory only, room for about one entry: the second note evicts the first.
		const n = notesApp("generic-causes", undefined, { memoryBytes: 400, tiers: ["memory"] });
		await n.request("/notes/1"); // cold
		await n.request("/notes/2"); // cold; evicts note 1
		await n.request("/notes/1"); // evicted (evicts note 2)
		n.clock.now += 31_000;
		await n.request("/notes/1"); // expired
		await n.cache.invalidateTags(env, ["note:1"]);
		await n.request("/notes/1"); // invalidated
		expect(n.cache.stats.origin.byCause).toEqual({ cold: 2, expired: 1, invalidated: 1, evicted: 1, refresh: 0 });
		expect(n.cache.memory.evictions).toBeGreaterThanOrEqual(2);
	});
});

describe("single-flight across an invalidation", () => {
	it("a read issued after an acknowledged invalidation never receives a load that began before it", async () => {
		const n = notesApp("generic-overtaken");
		const gate = deferred();
		n.hold(gate.promise);
		const early = n.request("/notes/2"); // reads 'two' and cache_seq, then waits
		await n.reached();
		n.hold(undefined);
		await env.DB.prepare("UPDATE notes SET text = 'deux' WHERE id = 2").run();
		await n.cache.invalidateTags(env, ["note:2"]);
		const late = n.request("/notes/2"); // issued after the invalidation returned: joins the early load…
		for (let i = 0; i < 200 && n.cache.stats.origin.coalesced < 1; i++) await scheduler.wait(1);
		expect(n.cache.stats.origin.coalesced).toBe(1);
		gate.resolve();
		expect(await (await early).json()).toEqual({ id: 2, text: "two" }); // answered as read, before the write
		// …but finds it overtaken by the invalidation and loads again.
		expect(await (await late).json()).toEqual({ id: 2, text: "deux" });
		expect(n.cache.stats.origin.overtakenFlights).toBe(1);
		expect(n.cache.stats.origin.loads).toBe(2);
	});

	it("a joined load that no invalidation overtook is shared as before", async () => {
		const n = notesApp("generic-not-overtaken");
		const gate = deferred();
		n.hold(gate.promise);
		const early = n.request("/notes/1");
		await n.reached();
		n.hold(undefined);
		await n.cache.invalidateTags(env, ["note:999"]); // another note
		const late = n.request("/notes/1");
		for (let i = 0; i < 200 && n.cache.stats.origin.coalesced < 1; i++) await scheduler.wait(1);
		gate.resolve();
		expect((await (await late).json()) as unknown).toEqual(await (await early).json());
		expect(n.cache.stats.origin).toMatchObject({ loads: 1, coalesced: 1, overtakenFlights: 0 });
	});
});

describe("answers a handler made uncacheable", () => {
	it.each([
		["Set-Cookie", "session=abc; HttpOnly"],
		["Cache-Control", "private, max-age=60"],
		["Cache-Control", "no-store"],
	] as [string, string][])("are never stored when %s: %s was set before the engine ran", async (name, value) => {
		const n = notesApp(`uncacheable-${name}-${value}`, [name, value]);
		const res = await n.request("/notes/2");
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Status")).toMatch(/fwd=bypass/);
		await n.request("/notes/2");
		expect(n.cache.stats.origin.loads).toBe(2);
		const { memory, colo, kv } = n.cache.stats.tiers;
		expect(memory.writes + colo.writes + kv.writes).toBe(0);
		if (name === "Set-Cookie") expect(res.headers.get("Set-Cookie")).toBe(value);
	});
});
