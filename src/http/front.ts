import type { FrontHit } from "tiercache";
import type { Bindings } from "../env";
import { REQUEST_ID_HEADER, requestIdOf, SECURITY_HEADERS } from "./common-headers";
import { logRequest } from "./request-log";

/**
 * What the app's middleware adds to every answer, added to the answers the
 * engine's front door gives before the app runs: the request id, the security
 * headers and the request's log line (a front door's answer takes no time
 * by the Workers clock).
 */
export function decorateFrontHit(response: Response, { request, env, route }: FrontHit<Bindings>): void {
	const id = requestIdOf(request);
	response.headers.set(REQUEST_ID_HEADER, id);
	for (const [name, value] of SECURITY_HEADERS) response.headers.set(name, value);
	if (env.LOG_REQUESTS === "off") return;
	logRequest({ requestId: id, method: request.method, route, url: request.url, response, ms: 0 });
}
