import { createHmac, randomUUID } from "node:crypto";

/**
 * Headers of a Standard Webhooks delivery of `body` signed with a `whsec_`
 * secret: webhook-id, webhook-timestamp, webhook-signature (v1).
 */
export async function signWebhook(
	secret,
	body,
	{ id = `msg_${randomUUID()}`, timestamp = Math.floor(Date.now() / 1000) } = {},
) {
	const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
	if (!match) throw new Error("the secret is not a whsec_ secret");
	const signature = createHmac("sha256", Buffer.from(match[1], "base64"))
		.update(`${id}.${timestamp}.${body}`)
		.digest("base64");
	return {
		"Content-Type": "application/json",
		"webhook-id": id,
		"webhook-timestamp": String(timestamp),
		"webhook-signature": `v1,${signature}`,
	};
}
