import type { PurgeTarget } from "../types.js";
import { chunks, MAX_TAGS_PER_PURGE } from "./purgers.js";

/** A message on the purge queue. */
export type PurgeMessage =
	| { tags: string[]; everything?: false; repurge?: boolean }
	| { everything: true; repurge?: boolean };

/** Queues' limits: 100 messages and 256 KB per sendBatch (a message is at most 128 KB). */
const BATCH_BYTES = 200_000;

/** The default delay of the one re-purge after a purge (s): a view of the clock is at most a second old. */
export const REPURGE_DELAY_S = 5;

/** PURGE_REPURGE_DELAY_S, or the default. */
export function repurgeDelaySeconds(env: { PURGE_REPURGE_DELAY_S?: string }): number {
	const delay = Number(env.PURGE_REPURGE_DELAY_S ?? REPURGE_DELAY_S);
	return Number.isInteger(delay) && delay >= 0 ? delay : REPURGE_DELAY_S;
}

/**
 * Enqueues an edge purge: tags in messages of at most 100, or one
 * purge-everything. `repurgeAfterS`: the edge was purged already (the first
 * attempt, before the answer), so only the delayed re-purge is queued.
 */
export async function enqueuePurge(
	queue: Queue,
	target: PurgeTarget,
	{ repurgeAfterS }: { repurgeAfterS?: number } = {},
): Promise<void> {
	const repurge = repurgeAfterS !== undefined;
	const messages: PurgeMessage[] =
		"everything" in target
			? [{ everything: true, ...(repurge ? { repurge } : {}) }]
			: chunks(target.tags, MAX_TAGS_PER_PURGE).map((tags) => ({ tags, ...(repurge ? { repurge } : {}) }));
	let batch: PurgeMessage[] = [];
	let bytes = 0;
	const flush = async () => {
		if (batch.length > 0) {
			await queue.sendBatch(
				batch.map((body) => ({
					body,
					contentType: "json" as const,
					...(repurge ? { delaySeconds: repurgeAfterS } : {}),
				})),
			);
		}
		batch = [];
		bytes = 0;
	};
	for (const message of messages) {
		const size = JSON.stringify(message).length;
		if (batch.length === 100 || bytes + size > BATCH_BYTES) await flush();
		batch.push(message);
		bytes += size;
	}
	await flush();
}

const TAG = /^[\x21-\x2B\x2D-\x7E]{1,1024}$/;

/** Checks a message body read from the queue. */
export function parsePurgeMessage(body: unknown): PurgeMessage | undefined {
	if (typeof body !== "object" || body === null) return undefined;
	const m = body as Record<string, unknown>;
	const repurge = m.repurge === true;
	if (m.everything === true) return { everything: true, repurge };
	if (!Array.isArray(m.tags) || m.tags.length === 0 || m.tags.length > MAX_TAGS_PER_PURGE) return undefined;
	if (!m.tags.every((t) => typeof t === "string" && TAG.test(t))) return undefined;
	return { tags: m.tags as string[], repurge };
}
