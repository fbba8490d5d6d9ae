import { type Entry, parseEntry, retentionSeconds } from "./entry.js";

/** Key URLs live under a host no request can name, so a client can never address them. */
const KEY_ORIGIN = "https://tiercache.invalid/";

/**
 * T2: the Cache API of this location (`caches.open(name)`). The entry is the
 * stored body; the Cache API's own expiry only keeps it through its stale
 * windows — freshness and validity are the engine's.
 */
export class ColoCache {
	#cache: Promise<Cache> | undefined;
	readonly name: string;
	readonly #openCache: (name: string) => Promise<Cache>;

	constructor(name: string, openCache: (name: string) => Promise<Cache> = (n) => caches.open(n)) {
		this.name = name;
		this.#openCache = openCache;
	}

	/** The opened cache (opened once per isolate; a failure is retried by the next call). */
	open(): Promise<Cache> {
		this.#cache ??= this.#openCache(this.name).catch((err) => {
			this.#cache = undefined;
			throw err;
		});
		return this.#cache;
	}

	async get(key: string): Promise<Entry | undefined> {
		const cache = await this.open();
		const response = await cache.match(KEY_ORIGIN + key);
		if (!response) return undefined;
		return parseEntry(await response.json().catch(() => undefined));
	}

	async set(key: string, entry: Entry): Promise<void> {
		const cache = await this.open();
		await cache.put(
			KEY_ORIGIN + key,
			new Response(JSON.stringify(entry), {
				headers: {
					"Content-Type": "application/json",
					"Cache-Control": `public, max-age=${retentionSeconds(entry)}`,
				},
			}),
		);
	}
}
