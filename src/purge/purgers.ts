import type { PurgeTarget } from "../cache/tier-cache";

/** A purge that may succeed if tried again (429, 5xx, network), after `retryAfterS` when known. */
export class RetryablePurgeError extends Error {
	readonly retryAfterS: number | undefined;
	constructor(message: string, retryAfterS?: number) {
		super(message);
		this.retryAfterS = retryAfterS;
	}
}

/** A purge that will not succeed if tried again (a 4xx other than 429). */
export class PermanentPurgeError extends Error {}

/** One edge cache to purge by tag. */
export interface Purger {
	readonly name: string;
	purge(target: PurgeTarget): Promise<void>;
}

export const MAX_TAGS_PER_PURGE = 100;

export function chunks<T>(items: readonly T[], size: number): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
	return out;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), if any. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
	if (!value) return undefined;
	if (/^\d+$/.test(value.trim())) return Number(value.trim());
	const at = Date.parse(value);
	return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export interface ZonePurgerOptions {
	zoneId: string;
	apiToken: string;
	/** API origin; default https://api.cloudflare.com. */
	baseUrl?: string;
	fetch?: typeof fetch;
}

/**
 * The zone purge API: `POST /client/v4/zones/{zone_id}/purge_cache` with
 * `{"tags": [...]}` (at most 100 per call) or `{"purge_everything": true}`.
 */
export function zonePurger(options: ZonePurgerOptions): Purger {
	const send = options.fetch ?? fetch;
	const url = `${(options.baseUrl ?? "https://api.cloudflare.com").replace(/\/+$/, "")}/client/v4/zones/${encodeURIComponent(options.zoneId)}/purge_cache`;
	async function call(body: unknown): Promise<void> {
		let response: Response;
		try {
			response = await send(url, {
				method: "POST",
				headers: { Authorization: `Bearer ${options.apiToken}`, "Content-Type": "application/json" },
				body: JSON.stringify(body),
			});
		} catch (err) {
			throw new RetryablePurgeError(`zone purge request failed: ${err instanceof Error ? err.message : err}`);
		}
		const text = await response.text();
		if (response.ok) {
			const result = safeJson(text) as { success?: boolean } | undefined;
			if (result?.success === false) throw new PermanentPurgeError(`zone purge rejected: ${text.slice(0, 200)}`);
			return;
		}
		const message = `zone purge answered ${response.status}: ${text.slice(0, 200)}`;
		if (response.status === 429 || response.status >= 500) {
			throw new RetryablePurgeError(message, retryAfterSeconds(response.headers.get("Retry-After")));
		}
		throw new PermanentPurgeError(message);
	}
	return {
		name: "zone",
		async purge(target) {
			if ("everything" in target) return call({ purge_everything: true });
			for (const tags of chunks(target.tags, MAX_TAGS_PER_PURGE)) await call({ tags });
		},
	};
}

/** Workers Cache in front of the Worker, purged through `ctx.cache.purge`. */
export function workersCachePurger(cache: CacheContext): Purger {
	return {
		name: "workers-cache",
		async purge(target) {
			const calls =
				"everything" in target
					? [{ purgeEverything: true }]
					: chunks(target.tags, MAX_TAGS_PER_PURGE).map((tags) => ({ tags }));
			for (const options of calls) {
				let result: CachePurgeResult;
				try {
					result = await cache.purge(options);
				} catch (err) {
					throw new RetryablePurgeError(`workers cache purge failed: ${err instanceof Error ? err.message : err}`);
				}
				if (!result.success) {
					throw new RetryablePurgeError(`workers cache purge failed: ${JSON.stringify(result.errors).slice(0, 200)}`);
				}
			}
		},
	};
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}
