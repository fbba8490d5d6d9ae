import { sign } from "tiercache/webhook";

// The test secret (vitest.config.ts) is the Standard Webhooks reference secret.
export const WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const encoder = new TextEncoder();

let ids = 0;

/** A signed webhook request (RequestInit) for `body`; options break it on purpose. */
export async function signedWebhook(
	body: string,
	options: { id?: string; timestamp?: number; secret?: string; signature?: string } = {},
) {
	const id = options.id ?? `msg_test_${++ids}_${Date.now()}`;
	const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
	const signature =
		options.signature ?? (await sign(options.secret ?? WEBHOOK_SECRET, id, timestamp, encoder.encode(body)));
	return {
		method: "POST",
		headers: {
			"Content-Type": "application/json",
			"webhook-id": id,
			"webhook-timestamp": timestamp,
			"webhook-signature": signature,
		},
		body,
	};
}
