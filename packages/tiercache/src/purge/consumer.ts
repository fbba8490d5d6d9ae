import type { PurgeTarget } from "../types.js";
import {
	fastlyPurger,
	PermanentPurgeError,
	type Purger,
	RetryablePurgeError,
	varnishPurger,
	workersCachePurger,
	zonePurger,
} from "./purgers.js";
import { type PurgeMessage, parsePurgeMessage } from "./queue.js";

/** The variables (wrangler vars and secrets) that configure the edge purgers. */
export interface PurgeEnv {
	/** Zone whose cache the zone purge API purges by tag. */
	PURGE_ZONE_ID?: string;
	/** API token with Cache Purge permission (secret). */
	PURGE_API_TOKEN?: string;
	/** Purge API origin; default https://api.cloudflare.com. */
	PURGE_API_BASE?: string;
	/** A Varnish with the shipped VCL, e.g. http://127.0.0.1:8080/. */
	VARNISH_PURGE_URL?: string;
	/** The token its VCL expects in X-Purge-Token (secret). */
	VARNISH_PURGE_TOKEN?: string;
	/** "true": soft purge. */
	VARNISH_SOFT_PURGE?: string;
	/** Fastly service purged by surrogate key. */
	FASTLY_SERVICE_ID?: string;
	/** Fastly API token with purge permission (secret). */
	FASTLY_API_TOKEN?: string;
	/** "true": soft purge. */
	FASTLY_SOFT_PURGE?: string;
	/** Fastly API origin; default https://api.fastly.com. */
	FASTLY_API_BASE?: string;
}

const reported = new Set<string>();

/** Logs a line once per isolate (missing configuration, not an incident per message). */
function reportOnce(key: string, line: object): void {
	if (reported.has(key)) return;
	reported.add(key);
	console.warn(JSON.stringify(line));
}

/**
 * The purgers configured for this deployment: Workers Cache when the runtime
 * offers `ctx.cache.purge`, the zone purge API when PURGE_ZONE_ID and
 * PURGE_API_TOKEN are set (each reported once when missing); a Varnish with
 * the shipped VCL when VARNISH_PURGE_URL and VARNISH_PURGE_TOKEN are set;
 * Fastly when FASTLY_SERVICE_ID and FASTLY_API_TOKEN are set.
 */
export function configuredPurgers(
	env: PurgeEnv,
	ctx: ExecutionContext | undefined,
	fetcher: typeof fetch = fetch,
): Purger[] {
	const purgers: Purger[] = [];
	if (ctx?.cache && typeof ctx.cache.purge === "function") purgers.push(workersCachePurger(ctx.cache));
	else
		reportOnce("workers-cache", {
			level: "warn",
			component: "purge",
			purger: "workers-cache",
			message: "Workers Cache purge is not available here (ctx.cache.purge is missing): not purged",
		});
	if (env.PURGE_ZONE_ID && env.PURGE_API_TOKEN) {
		purgers.push(
			zonePurger({
				zoneId: env.PURGE_ZONE_ID,
				apiToken: env.PURGE_API_TOKEN,
				baseUrl: env.PURGE_API_BASE,
				fetch: fetcher,
			}),
		);
	} else {
		reportOnce("zone", {
			level: "warn",
			component: "purge",
			purger: "zone",
			message: "zone purge is not configured (set PURGE_ZONE_ID and the PURGE_API_TOKEN secret): not purged",
		});
	}
	if (env.VARNISH_PURGE_URL && env.VARNISH_PURGE_TOKEN) {
		purgers.push(
			varnishPurger({
				url: env.VARNISH_PURGE_URL,
				token: env.VARNISH_PURGE_TOKEN,
				soft: env.VARNISH_SOFT_PURGE === "true",
				fetch: fetcher,
			}),
		);
	} else if (env.VARNISH_PURGE_URL || env.VARNISH_PURGE_TOKEN) {
		reportOnce("varnish", {
			level: "warn",
			component: "purge",
			purger: "varnish",
			message: "Varnish purge needs both VARNISH_PURGE_URL and VARNISH_PURGE_TOKEN: not purged",
		});
	}
	if (env.FASTLY_SERVICE_ID && env.FASTLY_API_TOKEN) {
		purgers.push(
			fastlyPurger({
				serviceId: env.FASTLY_SERVICE_ID,
				apiToken: env.FASTLY_API_TOKEN,
				soft: env.FASTLY_SOFT_PURGE === "true",
				baseUrl: env.FASTLY_API_BASE,
				fetch: fetcher,
			}),
		);
	} else if (env.FASTLY_SERVICE_ID || env.FASTLY_API_TOKEN) {
		reportOnce("fastly", {
			level: "warn",
			component: "purge",
			purger: "fastly",
			message: "Fastly purge needs both FASTLY_SERVICE_ID and the FASTLY_API_TOKEN secret: not purged",
		});
	}
	return purgers;
}

/**
 * The first edge purge attempt, before a write's or a webhook's answer: every
 * configured purger at once. True when there was at least one and all of them
 * purged; false when none is configured; throws when one failed (the queue
 * then purges with retries).
 */
export async function purgeEdgeNow(
	env: PurgeEnv,
	target: PurgeTarget,
	ctx: ExecutionContext | undefined,
	fetcher: typeof fetch = fetch,
): Promise<boolean> {
	const purgers = configuredPurgers(env, ctx, fetcher);
	if (purgers.length === 0) return false;
	await Promise.all(purgers.map((purger) => purger.purge(target)));
	return true;
}

export interface ConsumeOptions {
	/** Seconds before the one delayed re-purge (the KV propagation window). */
	repurgeDelayS: number;
	random?: () => number;
	/** Reloads the hottest keys the purge touched, so their next visitor gets a hit. */
	rewarm?: (target: PurgeTarget) => Promise<{ rewarmed: number; skipped: boolean }>;
}

/** Exponential back-off with jitter, honouring Retry-After: seconds before the next attempt. */
export function retryDelaySeconds(attempts: number, retryAfterS: number | undefined, random = Math.random): number {
	const backoff = Math.min(300, 2 ** Math.min(attempts, 10)) * (0.5 + random() / 2);
	return Math.min(43_200, Math.max(1, Math.ceil(Math.max(backoff, retryAfterS ?? 0))));
}

/** What one batch did, for logs and tests. */
export interface ConsumeResult {
	tags: string[];
	everything: boolean;
	outcome: "purged" | "retried" | "rejected" | "empty";
	/** The delayed re-purge sent, if any. */
	repurge?: { delaySeconds: number };
	/** Messages retried, with their delays. */
	retries?: { id: string; delaySeconds: number }[];
	/** Hot keys reloaded after the purge. */
	rewarmed?: number;
}

/**
 * One batch of the purge queue: tags deduplicated across messages and sent
 * to every purger in calls of at most 100; on a retryable failure every
 * message is retried with back-off (then dead-lettered by the queue); on
 * success, each first-time message schedules one delayed re-purge.
 */
export async function consumePurgeBatch(
	batch: MessageBatch<unknown>,
	queue: Queue,
	purgers: readonly Purger[],
	options: ConsumeOptions,
): Promise<ConsumeResult> {
	const valid: { message: Message<unknown>; body: PurgeMessage }[] = [];
	for (const message of batch.messages) {
		const body = parsePurgeMessage(message.body);
		if (body) valid.push({ message, body });
		else {
			console.error(JSON.stringify({ level: "error", alert: "purge_message_invalid", id: message.id }));
			message.ack();
		}
	}
	if (valid.length === 0) return { tags: [], everything: false, outcome: "empty" };
	const everything = valid.some(({ body }) => body.everything === true);
	const tags = [...new Set(valid.flatMap(({ body }) => ("tags" in body ? body.tags : [])))];
	try {
		for (const purger of purgers) await purger.purge(everything ? { everything: true } : { tags });
	} catch (err) {
		if (err instanceof PermanentPurgeError) {
			console.error(
				JSON.stringify({ level: "error", alert: "purge_rejected", message: err.message, tags: tags.slice(0, 20) }),
			);
			for (const { message } of valid) message.ack();
			return { tags, everything, outcome: "rejected" };
		}
		const retryAfterS = err instanceof RetryablePurgeError ? err.retryAfterS : undefined;
		console.warn(
			JSON.stringify({ level: "warn", component: "purge", message: err instanceof Error ? err.message : String(err) }),
		);
		const retries = valid.map(({ message }) => {
			const delaySeconds = retryDelaySeconds(message.attempts, retryAfterS, options.random);
			message.retry({ delaySeconds });
			return { id: message.id, delaySeconds };
		});
		return { tags, everything, outcome: "retried", retries };
	}
	const firstTime = valid.filter(({ body }) => !body.repurge);
	let repurge: ConsumeResult["repurge"];
	if (purgers.length > 0 && firstTime.length > 0) {
		// Clears anything refilled from a location that still held the old seqs.
		const again = everything ? [{ everything: true as const, repurge: true }] : [{ tags, repurge: true }];
		await queue.sendBatch(
			again.map((body) => ({ body, contentType: "json" as const, delaySeconds: options.repurgeDelayS })),
		);
		repurge = { delaySeconds: options.repurgeDelayS };
	}
	for (const { message } of valid) message.ack();
	let rewarmed: number | undefined;
	if (options.rewarm && firstTime.length > 0) {
		// After the purge: a reload must not be purged again by this batch.
		const result = await options.rewarm(everything ? { everything: true } : { tags }).catch(() => undefined);
		rewarmed = result?.rewarmed;
	}
	return { tags, everything, outcome: "purged", repurge, rewarmed };
}

/** The dead-letter queue: a purge that failed every retry. Logged as an alert, never dropped silently. */
export function consumeDeadLetters(batch: MessageBatch<unknown>): void {
	for (const message of batch.messages) {
		console.error(
			JSON.stringify({
				level: "error",
				alert: "purge_dead_lettered",
				id: message.id,
				attempts: message.attempts,
				body: message.body,
			}),
		);
		message.ack();
	}
}
