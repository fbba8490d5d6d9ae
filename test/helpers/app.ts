import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { TierCacheOptions } from "tiercache";
import { createApp } from "../../src/app";
import type { Db } from "../../src/db/client";
import type { AppEnv } from "../../src/env";
import { ADMIN } from "./fixtures";

let instances = 0;

/**
 * A fresh app, as a new isolate would have it: its own memory tier, seq memo
 * and counters, a clock the test moves, and (unless told otherwise) its own
 * key version and Cache API name, so tests in one file do not share entries.
 */
export function testApp(options: Partial<TierCacheOptions<AppEnv, Db>> & { shareKeys?: boolean } = {}) {
	const id = ++instances;
	const clock = { now: Date.now() };
	const { shareKeys, ...cacheOptions } = options;
	const app = createApp({
		cacheOptions: {
			now: () => clock.now,
			random: () => 0.5,
			...(shareKeys ? {} : { version: () => `test-${id}`, cacheName: `tiercache-test-${id}` }),
			...cacheOptions,
			// A write's wait for the location's isolates passes in the test's time.
			clock: {
				sleep: async (ms: number) => {
					clock.now += ms;
				},
				...cacheOptions.clock,
			},
		},
	});
	/**
	 * Sends a request to the app and (unless `wait` is false) waits for its
	 * waitUntil work: tier writes, publishing (which KV's one-write-per-second
	 * rule may delay by up to a second). `serve` sends it to the Worker's
	 * handler instead: the app behind the engine's front door.
	 */
	const send =
		(handler: "fetch" | "serve") =>
		async (
			path: string,
			init: RequestInit = {},
			bindings: Partial<typeof env> & Record<string, unknown> = {},
			{ wait = true }: { wait?: boolean } = {},
		): Promise<Response> => {
			const ctx = createExecutionContext();
			const res = await app[handler](new Request(`http://tiercache.test${path}`, init), { ...env, ...bindings }, ctx);
			if (wait) await waitOnExecutionContext(ctx);
			return res;
		};
	const request = send("fetch");
	const serve = send("serve");
	return { app, cache: app.cache, clock, request, serve, advance: (ms: number) => (clock.now += ms) };
}

export function cacheStatus(res: Response): string {
	return res.headers.get("Cache-Status") ?? "";
}

/** `PATCH /v1/products/:id` with the admin token, to an app of `testApp`. */
export function patchProduct(app: ReturnType<typeof testApp>, id: number, body: unknown): Promise<Response> {
	return app.request(`/v1/products/${id}`, {
		method: "PATCH",
		headers: { ...ADMIN, "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});
}
