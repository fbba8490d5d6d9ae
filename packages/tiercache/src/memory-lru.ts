import { type Entry, entryBytes } from "./entry.js";

/**
 * T1: a per-isolate LRU bounded in bytes. A Map keeps insertion order, so
 * re-inserting on every hit makes the first key the least recently used.
 */
export class MemoryLru {
	readonly maxBytes: number;
	#entries = new Map<string, { entry: Entry; bytes: number }>();
	#bytes = 0;
	/** Keys recently evicted to make room (bounded, oldest forgotten first), to tell evictions from cold misses. */
	#evicted = new Set<string>();
	/** Entries evicted to make room since the isolate started. */
	evictions = 0;

	constructor(maxBytes: number) {
		this.maxBytes = maxBytes;
	}

	get bytes(): number {
		return this.#bytes;
	}

	get size(): number {
		return this.#entries.size;
	}

	/** The entry, without making it the most recently used. */
	peek(key: string): Entry | undefined {
		return this.#entries.get(key)?.entry;
	}

	get(key: string): Entry | undefined {
		const slot = this.#entries.get(key);
		if (!slot) return undefined;
		this.#entries.delete(key);
		this.#entries.set(key, slot);
		return slot.entry;
	}

	/**
	 * Stores the entry unless it alone is larger than the bound; evicts the
	 * oldest to fit. With `evict` false it is stored only if it fits beside
	 * every other entry (replacing the key's own): an entry nobody asked for
	 * never pushes out one somebody did.
	 */
	set(key: string, entry: Entry, evict = true): boolean {
		const bytes = entryBytes(key, entry);
		if (!evict && this.#bytes - (this.#entries.get(key)?.bytes ?? 0) + bytes > this.maxBytes) return false;
		this.delete(key);
		if (bytes > this.maxBytes) return false;
		this.#entries.set(key, { entry, bytes });
		this.#bytes += bytes;
		this.#evicted.delete(key);
		for (const [oldest, slot] of this.#entries) {
			if (this.#bytes <= this.maxBytes) break;
			this.#entries.delete(oldest);
			this.#bytes -= slot.bytes;
			this.evictions++;
			this.#evicted.add(oldest);
			if (this.#evicted.size > 10_000) this.#evicted.delete(this.#evicted.values().next().value as string);
		}
		return true;
	}

	/** Whether the key was evicted to make room (and not stored again since). */
	wasEvicted(key: string): boolean {
		return this.#evicted.has(key);
	}

	keys(): IterableIterator<string> {
		return this.#entries.keys();
	}

	delete(key: string): void {
		const slot = this.#entries.get(key);
		if (!slot) return;
		this.#entries.delete(key);
		this.#bytes -= slot.bytes;
	}

	clear(): void {
		this.#entries.clear();
		this.#bytes = 0;
	}
}
