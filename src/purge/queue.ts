import type { PurgeTarget } from "../cache/tier-cache";
import { chunks, MAX_TAGS_PER_PURGE } from "./purgers";

/** A message on the purge queue. */
export type PurgeMessage =
	| { tags: string[]; everything?: false; repurge?: boolean }
	| { everything: true; repurge?: boolean };

/** Enqueues an edge purge: tags in messages of at most 100, or one purge-everything. */
export async function enqueuePurge(queue: Queue, target: PurgeTarget): Promise<void> {
	const messages: PurgeMessage[] =
		"everything" in target ? [{ everything: true }] : chunks(target.tags, MAX_TAGS_PER_PURGE).map((tags) => ({ tags }));
	for (const batch of chunks(messages, 100)) {
		await queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
	}
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
