// Standard Webhooks signatures (https://www.standardwebhooks.com):
// v1 = base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), key = base64 part of "whsec_…".

const encoder = new TextEncoder();

export const TIMESTAMP_TOLERANCE_S = 5 * 60;

function base64ToBytes(value: string): Uint8Array | undefined {
	try {
		const binary = atob(value);
		return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
	} catch {
		return undefined;
	}
}

function bytesToBase64(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary);
}

/** The HMAC key of a `whsec_` secret; undefined when it is not one. */
export function secretKey(secret: string): Uint8Array | undefined {
	const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret.trim());
	return match?.[1] ? base64ToBytes(match[1]) : undefined;
}

async function hmac(key: Uint8Array, id: string, timestamp: string, body: Uint8Array): Promise<Uint8Array> {
	const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	const head = encoder.encode(`${id}.${timestamp}.`);
	const content = new Uint8Array(head.length + body.length);
	content.set(head);
	content.set(body, head.length);
	return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, content));
}

/** `v1,<base64>` for a message, as a sender computes it. */
export async function sign(secret: string, id: string, timestamp: string, body: Uint8Array): Promise<string> {
	const key = secretKey(secret);
	if (!key) throw new Error("not a whsec_ secret");
	return `v1,${bytesToBase64(await hmac(key, id, timestamp, body))}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a delivery: timestamp within ±5 minutes of `nowS`, and at least one
 * `v1` signature in the (space-separated) header made with one of the
 * secrets (several during a rotation). Signatures are compared in constant
 * time; every candidate is checked.
 */
export async function verifySignature(
	secrets: readonly string[],
	headers: { id: string | undefined; timestamp: string | undefined; signature: string | undefined },
	body: Uint8Array,
	nowS: number,
): Promise<VerifyResult> {
	const { id, timestamp, signature } = headers;
	if (!id || !timestamp || !signature)
		return { ok: false, reason: "webhook-id, webhook-timestamp and webhook-signature are required" };
	if (!/^[\x21-\x7E]{1,256}$/.test(id)) return { ok: false, reason: "webhook-id must be 1-256 printable characters" };
	if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp must be Unix seconds" };
	if (Math.abs(nowS - Number(timestamp)) > TIMESTAMP_TOLERANCE_S) {
		return { ok: false, reason: "webhook-timestamp is more than 5 minutes from now" };
	}
	const candidates = signature
		.split(" ")
		.filter((part) => part.startsWith("v1,"))
		.map((part) => base64ToBytes(part.slice(3)))
		.filter((bytes): bytes is Uint8Array => bytes?.length === 32);
	let valid = false;
	for (const secret of secrets) {
		const key = secretKey(secret);
		if (!key) continue;
		const expected = await hmac(key, id, timestamp, body);
		for (const candidate of candidates) {
			if (crypto.subtle.timingSafeEqual(expected, candidate)) valid = true;
		}
	}
	return valid ? { ok: true } : { ok: false, reason: "no valid signature" };
}
