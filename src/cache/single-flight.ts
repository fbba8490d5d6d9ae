/**
 * Concurrent calls for one key share one execution (per isolate). The
 * second and later callers are counted as coalesced.
 */
export class SingleFlight<T> {
	#inFlight = new Map<string, Promise<T>>();

	get size(): number {
		return this.#inFlight.size;
	}

	has(key: string): boolean {
		return this.#inFlight.has(key);
	}

	run(key: string, work: () => Promise<T>, onCoalesced?: () => void): Promise<T> {
		const running = this.#inFlight.get(key);
		if (running) {
			onCoalesced?.();
			return running;
		}
		const promise = (async () => {
			try {
				return await work();
			} finally {
				this.#inFlight.delete(key);
			}
		})();
		this.#inFlight.set(key, promise);
		return promise;
	}
}
