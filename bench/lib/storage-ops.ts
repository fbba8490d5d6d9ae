// Counts the storage operations a variant makes, whatever makes them (its
// reads, its write-backs, the invalidation clock): KV reads and writes and
// Cache API reads and writes. Unlike CPU time and req/s, these counts do not
// move with the machine's load, and on Cloudflare they are what is billed
// (KV) or what costs a subrequest (both).

export interface StorageOps {
	kvReads: number;
	kvWrites: number;
	cacheReads: number;
	cacheWrites: number;
}

export const storageOps: StorageOps = { kvReads: 0, kvWrites: 0, cacheReads: 0, cacheWrites: 0 };

const KV_READS = new Set(["get", "getWithMetadata"]);
const KV_WRITES = new Set(["put", "delete"]);
const countedKv = new WeakMap<KVNamespace, KVNamespace>();

/** The namespace, with every get and put counted. */
export function countingKv(kv: KVNamespace): KVNamespace {
	let counted = countedKv.get(kv);
	if (!counted) {
		counted = new Proxy(kv, {
			get(target, prop) {
				const value = Reflect.get(target, prop, target);
				if (typeof value !== "function") return value;
				return (...args: unknown[]) => {
					if (KV_READS.has(prop as string)) storageOps.kvReads++;
					else if (KV_WRITES.has(prop as string)) storageOps.kvWrites++;
					return value.apply(target, args);
				};
			},
		});
		countedKv.set(kv, counted);
	}
	return counted;
}

function countingCache(cache: Cache): Cache {
	return new Proxy(cache, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (typeof value !== "function") return value;
			return (...args: unknown[]) => {
				if (prop === "match") storageOps.cacheReads++;
				else if (prop === "put" || prop === "delete") storageOps.cacheWrites++;
				return value.apply(target, args);
			};
		},
	});
}

/** Makes `caches.open` hand out counted caches (once per isolate, at start); returns the undo. */
export function countCacheApi(): () => void {
	const original = caches.open;
	const open = original.bind(caches);
	caches.open = async (name: string) => countingCache(await open(name));
	return () => {
		caches.open = original;
	};
}
