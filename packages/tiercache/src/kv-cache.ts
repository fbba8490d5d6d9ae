import { type Entry, parseEntry, retentionSeconds } from "./entry.js";

/** KV's own limits (platform): key 512 bytes, metadata 1 KiB, value 25 MiB, expirationTtl >= 60 s. */
export const KV_LIMITS = {
	keyBytes: 512,
	metadataBytes: 1024,
	valueBytes: 25 * 1024 * 1024,
	minExpirationTtl: 60,
	writeIntervalMs: 1000,
} as const;

const encoder = new TextEncoder();
const byteLength = (text: string) => encoder.encode(text).length;

export type KvWriteOutcome = "written" | "too-soon" | "too-large";

/**
 * T3: Workers KV, global and eventually consistent. Writes keep KV's rules:
 * at most one write per key per second from this isolate, expirationTtl of
 * at least 60 s, metadata and value sizes checked before writing.
 */
export class KvCache {
	readonly #kv: KVNamespace;
	readonly #lastWrite: Map<string, number>;
	readonly maxValueBytes: number;

	constructor(kv: KVNamespace, lastWrite: Map<string, number>, maxValueBytes: number = KV_LIMITS.valueBytes) {
		this.#kv = kv;
		this.#lastWrite = lastWrite;
		this.maxValueBytes = Math.min(maxValueBytes, KV_LIMITS.valueBytes);
	}

	async get(key: string): Promise<Entry | undefined> {
		const value = await this.#kv.get(await kvKey(key), "json");
		return parseEntry(value);
	}

	async set(key: string, entry: Entry, now: number): Promise<KvWriteOutcome> {
		const name = await kvKey(key);
		const last = this.#lastWrite.get(name);
		if (last !== undefined && now - last < KV_LIMITS.writeIntervalMs) return "too-soon";
		const value = JSON.stringify(entry);
		if (byteLength(value) > this.maxValueBytes) return "too-large";
		const metadata = { status: entry.status, readSeq: entry.readSeq, storedAt: entry.storedAt };
		if (byteLength(JSON.stringify(metadata)) > KV_LIMITS.metadataBytes) return "too-large";
		this.#lastWrite.set(name, now);
		pruneOld(this.#lastWrite, now);
		await this.#kv.put(name, value, {
			expirationTtl: Math.max(KV_LIMITS.minExpirationTtl, retentionSeconds(entry)),
			metadata,
		});
		return "written";
	}
}

/** `e:<key>`, or `e:#<sha-256>` when the key would pass KV's 512-byte limit. */
export async function kvKey(key: string): Promise<string> {
	const name = `e:${key}`;
	if (byteLength(name) <= KV_LIMITS.keyBytes) return name;
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(key)));
	return `e:#${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Keeps the write-time map from growing without bound. */
function pruneOld(lastWrite: Map<string, number>, now: number): void {
	if (lastWrite.size < 10_000) return;
	for (const [key, at] of lastWrite) {
		if (now - at >= KV_LIMITS.writeIntervalMs) lastWrite.delete(key);
	}
}
