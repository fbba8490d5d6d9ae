import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sign } from "tiercache/webhook";
import { createApp } from "../src/app";

export const ADMIN = { Authorization: `Bearer ${env.ADMIN_TOKEN}` } as const;

let instances = 0;

/**
 * A fresh app, as a new isolate would have it: its own memory tier, clock
 * view and counters, and a wall clock the test moves. Its key version and
 * Cache API name are its own, so tests do not share entries, unless `keys`
 * names them: apps with the same `keys` are isolates of one deployment.
 */
export function testApp({ keys = `test-${++instances}` }: { keys?: string } = {}) {
	const clock = { now: Date.now() };
	const app = createApp({
		now: () => clock.now,
		random: () => 0.5,
		version: () => keys,
		cacheName: `notes-${keys}`,
	});
	/** Sends a request and waits for its `waitUntil` work (tier stores, purge hand-over). */
	async function request(path: string, init: RequestInit = {}): Promise<Response> {
		const ctx = createExecutionContext();
		const res = await app.fetch(new Request(`http://notes.test${path}`, init), env, ctx);
		await waitOnExecutionContext(ctx);
		return res;
	}
	/** An admin write with a JSON body. */
	function write(method: "POST" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<Response> {
		const headers = { ...ADMIN, "Content-Type": "application/json" };
		return request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	}
	return { app, request, write, advance: (ms: number) => (clock.now += ms) };
}

export function cacheStatus(res: Response): string {
	return res.headers.get("Cache-Status") ?? "";
}

/** Reads a route and returns its JSON body. */
export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
	return (await res.json()) as T;
}

/**
 * Two authors, two labels, three notes (newest last):
 * 1 "Engines" by Ada [ideas], 2 "Compilers" by Grace [ideas, todo], 3 "Bernoulli" by Ada [].
 */
export async function seedNotes(): Promise<void> {
	await env.DB.batch([
		env.DB.prepare("DELETE FROM note_labels"),
		env.DB.prepare("DELETE FROM notes"),
		env.DB.prepare("DELETE FROM labels"),
		env.DB.prepare("DELETE FROM authors"),
		env.DB.prepare(
			"INSERT INTO authors (id, handle, name) VALUES (1, 'ada', 'Ada Lovelace'), (2, 'grace', 'Grace Hopper')",
		),
		env.DB.prepare("INSERT INTO labels (id, slug, name) VALUES (1, 'ideas', 'Ideas'), (2, 'todo', 'To do')"),
		env.DB.prepare(
			`INSERT INTO notes (id, author_id, title, body, created_at, updated_at) VALUES
			(1, 1, 'Engines', 'The analytical engine weaves algebraic patterns.', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'),
			(2, 2, 'Compilers', 'Programs that write programs.', '2026-01-02T00:00:00.000Z', '2026-01-02T00:00:00.000Z'),
			(3, 1, 'Bernoulli', 'Note G.', '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z')`,
		),
		env.DB.prepare("INSERT INTO note_labels (note_id, label_id) VALUES (1, 1), (2, 1), (2, 2)"),
	]);
}

/** Tags whose latest bump was not handed to the edge purge yet (the cron's work). */
export async function unhandledTags(): Promise<string[]> {
	const rows = await env.DB.prepare("SELECT tag FROM cache_tag_seq WHERE seq > handled_seq ORDER BY tag").all<{
		tag: string;
	}>();
	return rows.results.map((row) => row.tag);
}

/** Marks every bump so far handled, so a test sees only its own. */
export async function handleAllBumps(): Promise<void> {
	await env.DB.prepare("UPDATE cache_tag_seq SET handled_seq = seq").run();
}

let deliveries = 0;

/** A purge webhook request signed as a Standard Webhooks sender signs it. */
export async function signedWebhook(body: string, { id = `msg_notes_${++deliveries}_${Date.now()}` } = {}) {
	const timestamp = String(Math.floor(Date.now() / 1000));
	const signature = await sign(env.PURGE_WEBHOOK_SECRET, id, timestamp, new TextEncoder().encode(body));
	return {
		method: "POST",
		headers: {
			"Content-Type": "application/json",
			"webhook-id": id,
			"webhook-timestamp": timestamp,
			"webhook-signature": signature,
		},
		body,
	};
}
