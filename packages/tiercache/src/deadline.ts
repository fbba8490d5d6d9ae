/**
 * What `promise` settles to, or `late` when it has not settled within `ms`
 * (real time). The timer is cleared either way; a rejection that comes after
 * the deadline is dropped, one before it is passed on.
 */
export async function within<T, L>(promise: Promise<T>, ms: number, late: L): Promise<T | L> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	promise.catch(() => {});
	try {
		return await Promise.race([
			promise,
			new Promise<L>((resolve) => {
				timer = setTimeout(resolve, ms, late);
			}),
		]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

/** A `late` value no awaited result can equal. */
export const LATE: unique symbol = Symbol("late");

/** A wait that reached its deadline (e.g. the tag look-up): told apart from other failures. */
export class TimeoutError extends Error {
	override name = "TimeoutError";
}
