import type { PurgeTarget } from "../types.js";

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
	const fetcher = options.fetch ?? fetch;
	const url = `${(options.baseUrl ?? "https://api.cloudflare.com").replace(/\/+$/, "")}/client/v4/zones/${encodeURIComponent(options.zoneId)}/purge_cache`;
	async function call(body: unknown): Promise<void> {
		const response = await send("zone purge", fetcher, url, {
			method: "POST",
			headers: { Authorization: `Bearer ${options.apiToken}`, "Content-Type": "application/json" },
			body: JSON.stringify(body),
		});
		const text = await checkAnswer("zone purge", response);
		const result = safeJson(text) as { success?: boolean } | undefined;
		if (result?.success === false) throw new PermanentPurgeError(`zone purge rejected: ${text.slice(0, 200)}`);
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

/** Classifies a purge API's answer: 2xx passes; 429 and 5xx may pass later; any other status never will. */
async function checkAnswer(what: string, response: Response): Promise<string> {
	const text = await response.text();
	if (response.ok) return text;
	const message = `${what} answered ${response.status}: ${text.slice(0, 200)}`;
	if (response.status === 429 || response.status >= 500) {
		throw new RetryablePurgeError(message, retryAfterSeconds(response.headers.get("Retry-After")));
	}
	throw new PermanentPurgeError(message);
}

async function send(what: string, fetcher: typeof fetch, url: string, init: RequestInit): Promise<Response> {
	try {
		return await fetcher(url, init);
	} catch (err) {
		throw new RetryablePurgeError(`${what} request failed: ${err instanceof Error ? err.message : err}`);
	}
}

/**
 * Surrogate keys in groups that fit one header: at most `maxKeys` keys and
 * `maxBytes` characters each (Varnish's default limit on a request header is
 * 8 KB; Fastly takes 256 keys a request).
 */
export function keyGroups(keys: readonly string[], maxKeys: number, maxBytes: number): string[][] {
	const groups: string[][] = [];
	let group: string[] = [];
	let bytes = 0;
	for (const key of keys) {
		if (group.length > 0 && (group.length === maxKeys || bytes + 1 + key.length > maxBytes)) {
			groups.push(group);
			group = [];
			bytes = 0;
		}
		group.push(key);
		bytes += (group.length > 1 ? 1 : 0) + key.length;
	}
	if (group.length > 0) groups.push(group);
	return groups;
}

export interface VarnishPurgerOptions {
	/** Where Varnish listens, e.g. http://127.0.0.1:8080/ (its VCL accepts PURGE from loopback only). */
	url: string;
	/** The token its VCL expects in `X-Purge-Token`. */
	token: string;
	/** Soft purge (`xkey-softpurge`: stale, served in grace while refetched) instead of removal. */
	soft?: boolean;
	fetch?: typeof fetch;
}

/**
 * A Varnish with the shipped VCL (edge/varnish.vcl): `PURGE` with
 * `xkey-purge: <keys>` (or `xkey-softpurge`), `X-Purge-All: 1` for
 * everything, authenticated by `X-Purge-Token`.
 */
export function varnishPurger(options: VarnishPurgerOptions): Purger {
	const fetcher = options.fetch ?? fetch;
	const call = async (headers: Record<string, string>) => {
		const response = await send("varnish purge", fetcher, options.url, {
			method: "PURGE",
			headers: { "X-Purge-Token": options.token, ...headers },
		});
		await checkAnswer("varnish purge", response);
	};
	return {
		name: "varnish",
		async purge(target) {
			if ("everything" in target) return call({ "X-Purge-All": "1" });
			const header = options.soft ? "xkey-softpurge" : "xkey-purge";
			for (const keys of keyGroups(target.tags, MAX_TAGS_PER_PURGE, 6000)) await call({ [header]: keys.join(" ") });
		},
	};
}

export interface FastlyPurgerOptions {
	serviceId: string;
	apiToken: string;
	/** Soft purge: marks content stale instead of removing it (`Fastly-Soft-Purge: 1`). */
	soft?: boolean;
	/** API origin; default https://api.fastly.com (tests point it at a stub). */
	baseUrl?: string;
	fetch?: typeof fetch;
}

/**
 * Fastly's API: `POST /service/{id}/purge` with the keys in a
 * `Surrogate-Key` header (at most 256 a request), `POST /service/{id}/purge_all`
 * for everything; the token in `Fastly-Key`.
 */
export function fastlyPurger(options: FastlyPurgerOptions): Purger {
	const fetcher = options.fetch ?? fetch;
	const base = `${(options.baseUrl ?? "https://api.fastly.com").replace(/\/+$/, "")}/service/${encodeURIComponent(options.serviceId)}`;
	const call = async (path: string, headers: Record<string, string>) => {
		const response = await send("fastly purge", fetcher, base + path, {
			method: "POST",
			headers: { "Fastly-Key": options.apiToken, Accept: "application/json", ...headers },
		});
		await checkAnswer("fastly purge", response);
	};
	return {
		name: "fastly",
		async purge(target) {
			if ("everything" in target) return call("/purge_all", {});
			const soft: Record<string, string> = options.soft ? { "Fastly-Soft-Purge": "1" } : {};
			for (const keys of keyGroups(target.tags, 256, 6000)) {
				await call("/purge", { "Surrogate-Key": keys.join(" "), ...soft });
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
