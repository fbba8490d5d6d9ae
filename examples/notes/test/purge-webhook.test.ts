import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { cacheStatus, seedNotes, signedWebhook, testApp } from "./helpers";

beforeEach(seedNotes);

async function counter(): Promise<number> {
	const row = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
	return Number(row?.value);
}

describe("POST /v1/webhooks/purge (tiercache/webhook)", () => {
	it("invalidates the tags it is sent: the next read of them is fresh, others stay cached", async () => {
		const { request } = testApp();
		await request("/v1/notes/1");
		await request("/v1/notes/2");
		const res = await request("/v1/webhooks/purge", await signedWebhook('{"tags": ["note:1"]}'));
		expect(res.status).toBe(202);
		expect(await res.json()).toMatchObject({ tags: ["note:1"], seq: await counter() });
		expect(cacheStatus(await request("/v1/notes/1"))).toContain("tiercache-memory; fwd=miss; detail=invalidated");
		expect(cacheStatus(await request("/v1/notes/2"))).toContain("tiercache-memory; hit");
	});

	it("purges everything on request", async () => {
		const { request } = testApp();
		await request("/v1/labels");
		await request("/v1/authors/2");
		expect((await request("/v1/webhooks/purge", await signedWebhook('{"purgeEverything": true}'))).status).toBe(202);
		expect(cacheStatus(await request("/v1/labels"))).toContain("detail=invalidated");
		expect(cacheStatus(await request("/v1/authors/2"))).toContain("detail=invalidated");
	});

	it("answers a replayed delivery with the first answer, without a second bump", async () => {
		const { request } = testApp();
		const first = await request("/v1/webhooks/purge", await signedWebhook('{"tags": ["labels"]}', { id: "msg_once" }));
		const seq = await counter();
		const again = await request("/v1/webhooks/purge", await signedWebhook('{"tags": ["labels"]}', { id: "msg_once" }));
		expect(again.status).toBe(200);
		expect(await again.json()).toEqual(await first.json());
		expect(await counter()).toBe(seq);
	});

	it("refuses a bad signature (401) and leaves the cache alone", async () => {
		const { request } = testApp();
		await request("/v1/notes/1");
		const init = await signedWebhook('{"tags": ["note:1"]}');
		const tampered = { ...init, body: '{"tags": ["note:2"]}' };
		const res = await request("/v1/webhooks/purge", tampered);
		expect(res.status).toBe(401);
		expect(cacheStatus(await request("/v1/notes/1"))).toContain("tiercache-memory; hit");
	});
});
