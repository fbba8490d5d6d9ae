import { createTierCache, type TierCache, type TierCacheOptions } from "tiercache";
import { createDb, type Db } from "./db/client";
import type { AppEnv } from "./env";

export type NotesCache = TierCache<AppEnv, Db>;

/** Part of every key: bump it when cached answers change shape or meaning, and old entries are never read again. */
export const CACHE_VERSION = "notes-1";

/** The notes API's cache engine: D1 for the data and the invalidation clock, KV for T3. */
export function createNotesCache(overrides: Partial<TierCacheOptions<AppEnv, Db>> = {}): NotesCache {
	return createTierCache<AppEnv, Db>({
		database: (env) => env.DB,
		kv: (env) => env.CACHE_KV,
		createDb,
		version: () => CACHE_VERSION,
		...overrides,
	});
}

/** One policy per read route (the engine's defaults for the rest). */
export function notesPolicies(cache: NotesCache) {
	return {
		notes: cache.policy({ name: "notes", ttl: 60 }),
		note: cache.policy({ name: "note", ttl: 300 }),
		author: cache.policy({ name: "author", ttl: 300 }),
		// Labels change rarely.
		labels: cache.policy({ name: "labels", ttl: 3_600 }),
	};
}

export type NotesDeps = { cache: NotesCache; policies: ReturnType<typeof notesPolicies> };
