const encoder = new TextEncoder();

/**
 * Compares two secrets in constant time. Both are hashed first, so neither
 * the content nor the length of the expected value leaks through timing.
 */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
	const [a, b] = await Promise.all([
		crypto.subtle.digest("SHA-256", encoder.encode(given)),
		crypto.subtle.digest("SHA-256", encoder.encode(expected)),
	]);
	return crypto.subtle.timingSafeEqual(a, b);
}
