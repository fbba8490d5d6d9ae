// Workers KV as a far location sees it, for the benchmark's two-location test.
//
// Real KV is eventually consistent: a value written at one location may take
// up to 60 s (or more) to be read elsewhere, and until then the old value (or
// its absence) is read there. Two Miniflare instances sharing a KV persist
// directory see each other's writes at once, so this wrapper puts the lag
// back:
//
// - Every location writes through the wrapper. A key's real KV value is its
//   recent history, newest first: `{"laggingKv": 1, "versions": [{at,
//   expiresAt, value, metadata}, …]}` (a delete is a version whose value is
//   null). A write reads the history, puts the new version in front and drops
//   versions that no reader can pick any more: it keeps every version younger
//   than `horizonMs` (120 s) plus the newest one older than that, and never
//   more than `maxVersions` (16; the bench's workload writes a key at most
//   once a second per isolate, and a handful of times in all).
// - A read at a location with lag L answers with the newest version written
//   at least L ago, as it was then: missing when there is none (never
//   written, or only recently), when it is a delete, or when it had expired
//   L ago. With L = 0 it is the newest version: the writing location reads
//   its own writes.
//
// Simplifications, all in KV's favour of being *less* stale than it may be:
// a version becomes visible exactly L after it was written (real KV may take
// longer, and caches negative look-ups); the history is a read-modify-write,
// so two locations writing one key within a few milliseconds can lose one of
// the two versions (last write wins, as in KV). `list` is passed through,
// unlagged. Values are text (the engine writes JSON strings).

export interface KvVersion {
	/** When it was written (ms since the epoch, possibly back-dated; see `backdateMs`). */
	at: number;
	/** When it expires (ms), null for never. */
	expiresAt: number | null;
	/** The value, null for a delete. */
	value: string | null;
	metadata: unknown;
}

export interface LaggingKvOptions {
	/** Reads see values as they were this long ago (ms); 0: the newest. */
	lagMs: number;
	/** Versions younger than this are kept for lagging readers (ms). Default 120,000. */
	horizonMs?: number;
	/** At most this many versions per key. Default 16. */
	maxVersions?: number;
	/** Wall clock (ms). Default Date.now. */
	now?: () => number;
	/**
	 * How far in the past writes are stamped (ms), read at each write. The
	 * benchmark back-dates its warm-up writes, so that they stand for entries
	 * stored long before the change it measures. Default 0.
	 */
	backdateMs?: () => number;
}

interface History {
	laggingKv: 1;
	versions: KvVersion[];
}

type ValueType = "text" | "json" | "arrayBuffer";

const isHistory = (value: unknown): value is History =>
	typeof value === "object" &&
	value !== null &&
	(value as History).laggingKv === 1 &&
	Array.isArray((value as History).versions);

/** The stored history of a raw KV value; a value not written by the wrapper counts as written long ago. */
export function parseHistory(raw: string | null): KvVersion[] {
	if (raw === null) return [];
	try {
		const parsed: unknown = JSON.parse(raw);
		if (isHistory(parsed)) return parsed.versions;
	} catch {
		// Not JSON: a plain value.
	}
	return [{ at: 0, expiresAt: null, value: raw, metadata: null }];
}

/** The version a reader with this lag sees at `now`, or undefined (missing). */
export function visibleVersion(versions: readonly KvVersion[], now: number, lagMs: number): KvVersion | undefined {
	const asOf = now - lagMs;
	const version = versions.find((v) => v.at <= asOf);
	if (!version || version.value === null) return undefined;
	if (version.expiresAt !== null && version.expiresAt <= asOf) return undefined;
	return version;
}

/** The versions worth keeping once `latest` is written, newest first: see the file's comment. */
export function prune(latest: KvVersion, older: readonly KvVersion[], now: number, horizonMs: number, max: number) {
	const kept: KvVersion[] = [];
	for (const v of [latest, ...older].sort((a, b) => b.at - a.at)) {
		const previous = kept[kept.length - 1];
		// Once a kept version is past the horizon, no reader can need an older one.
		if (kept.length >= max || (previous && previous.at <= now - horizonMs)) break;
		kept.push(v);
	}
	return kept;
}

function decode(value: string, type: ValueType | undefined): unknown {
	if (type === "json") return JSON.parse(value);
	if (type === "arrayBuffer") return new TextEncoder().encode(value).buffer;
	return value;
}

function typeOf(options: unknown): ValueType | undefined {
	const type = typeof options === "string" ? options : (options as { type?: string } | undefined)?.type;
	if (type === undefined || type === "text" || type === "json" || type === "arrayBuffer") return type;
	throw new Error(`lagging KV: type '${type}' is not supported`);
}

/** A KV namespace over `kv` whose reads lag by `lagMs` (see the file's comment). */
export function laggingKv(kv: KVNamespace, options: LaggingKvOptions): KVNamespace {
	const now = options.now ?? Date.now;
	const backdate = options.backdateMs ?? (() => 0);
	const horizonMs = options.horizonMs ?? 120_000;
	const maxVersions = options.maxVersions ?? 16;

	async function read(key: unknown): Promise<KvVersion | undefined> {
		if (typeof key !== "string") throw new Error("lagging KV: only single-key reads are supported");
		return visibleVersion(parseHistory(await kv.get(key, "text")), now(), options.lagMs);
	}

	async function write(key: string, value: string | null, put: KVNamespacePutOptions = {}): Promise<void> {
		const t = now();
		const at = t - backdate();
		const expiresAt =
			put.expiration !== undefined
				? put.expiration * 1000
				: put.expirationTtl !== undefined
					? t + put.expirationTtl * 1000
					: null;
		const latest: KvVersion = { at, expiresAt, value, metadata: put.metadata ?? null };
		const versions = prune(latest, parseHistory(await kv.get(key, "text")), t, horizonMs, maxVersions);
		// The real key outlives its last version by the horizon, so lagging readers still find it.
		const ends = versions.map((v) => v.expiresAt);
		const expiration = ends.includes(null)
			? undefined
			: Math.max(60, Math.ceil((Math.max(...(ends as number[])) + horizonMs - t) / 1000));
		const history: History = { laggingKv: 1, versions };
		await kv.put(key, JSON.stringify(history), expiration === undefined ? {} : { expirationTtl: expiration });
	}

	const wrapper = {
		async get(key: unknown, type?: unknown) {
			const version = await read(key);
			return version ? decode(version.value as string, typeOf(type)) : null;
		},
		async getWithMetadata(key: unknown, type?: unknown) {
			const version = await read(key);
			return version
				? { value: decode(version.value as string, typeOf(type)), metadata: version.metadata, cacheStatus: null }
				: { value: null, metadata: null, cacheStatus: null };
		},
		async put(key: string, value: unknown, put?: KVNamespacePutOptions) {
			if (typeof value !== "string") throw new Error("lagging KV: only text values are supported");
			await write(key, value, put);
		},
		async delete(key: string) {
			await write(key, null);
		},
		list: kv.list.bind(kv),
	};
	return wrapper as unknown as KVNamespace;
}
