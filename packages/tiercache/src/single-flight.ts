/**
 * Concurrent calls for one key share one execution (per isolate). The
 * second and later callers are counted as coalesced.
 *
 * Each waiter gets a promise created in its own request's context, which the
 * running call settles: a Worker cancels continuations on a promise whose
 * creating request has finished, so waiters never await the runner's own
 * promise (a background refresh may outlive the request that started it).
 * A waiter also keeps a timer of its own: the runtime cancels a request that
 * waits on nothing of its own as hung, and after `waitMs` the waiter gives up
 * with a `FlightTimeoutError` (the caller then loads by itself).
 */
export class FlightTimeoutError extends Error {}

export class SingleFlight<T> {
	#inFlight = new Map<string, { resolve: (value: T) => void; reject: (err: unknown) => void }[]>();
	readonly waitMs: number;

	constructor(waitMs = 10_000) {
		this.waitMs = waitMs;
	}

	get size(): number {
		return this.#inFlight.size;
	}

	has(key: string): boolean {
		return this.#inFlight.has(key);
	}

	run(key: string, work: () => Promise<T>, onCoalesced?: () => void): Promise<T> {
		const waiters = this.#inFlight.get(key);
		if (waiters) {
			onCoalesced?.();
			return new Promise<T>((resolve, reject) => {
				const waiter = {
					resolve: (value: T) => {
						clearTimeout(timer);
						resolve(value);
					},
					reject: (err: unknown) => {
						clearTimeout(timer);
						reject(err);
					},
				};
				const timer = setTimeout(() => {
					waiters.splice(waiters.indexOf(waiter), 1);
					reject(new FlightTimeoutError(`waited ${this.waitMs} ms for another load of this key`));
				}, this.waitMs);
				waiters.push(waiter);
			});
		}
		const mine: { resolve: (value: T) => void; reject: (err: unknown) => void }[] = [];
		this.#inFlight.set(key, mine);
		return (async () => {
			try {
				const value = await work();
				this.#inFlight.delete(key);
				for (const waiter of mine) waiter.resolve(value);
				return value;
			} catch (err) {
				this.#inFlight.delete(key);
				for (const waiter of mine) waiter.reject(err);
				throw err;
			}
		})();
	}
}
