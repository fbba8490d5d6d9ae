vcl 4.1;

# tiercache edge: a standards-following reverse-proxy cache (Varnish 7.1 with
# varnish-modules' xkey) in front of the tiercache Worker. See edge/README.md.
#
# - Freshness from CDN-Cache-Control (RFC 9213): max-age → TTL,
#   stale-while-revalidate and stale-if-error (RFC 5861) → how long a stale copy
#   may be served, and why. The browser's Cache-Control is ignored when
#   CDN-Cache-Control (or, failing it, Surrogate-Control) is present; without
#   them, Cache-Control (s-maxage, max-age, Expires) applies as in any shared
#   cache. No heuristic freshness.
# - Never stores requests with Authorization or Cookie, nor answers that are
#   private, no-store, carry Set-Cookie or Vary: *.
# - Surrogate-Key is indexed with xkey; PURGE by key (hard or soft) or
#   everything, from the purge ACL (loopback unless rendered otherwise), with
#   a token.
# - Appends its member to Cache-Status (RFC 9211), last.
#
# This file is complete and loads as it is (backend 127.0.0.1:8787), but with
# no purge token configured every PURGE is refused. scripts/lib/edge-vcl.mjs
# renders it: the backend on the lines marked "@render", and the blocks
# between "@render-begin <name>" and "@render-end <name>": purge-token (a
# check against digests of the token; the token itself is never written),
# purge-from (the ACL) and probe (left out under wrangler dev).

import std;
import blob;
import directors;
import var;
import xkey;

backend worker {
	.host = "127.0.0.1"; # @render backend-host
	.port = "8787"; # @render backend-port
	.connect_timeout = 2s;
	.first_byte_timeout = 30s;
	.between_bytes_timeout = 10s;
	# Marks the Worker sick after 2 failed polls of 3, so that stale-if-error
	# answers at once instead of after a failed fetch. A failed fetch is also
	# caught without the probe (vcl_deliver, vcl_synth). A probe reads until
	# the backend closes the connection: `wrangler dev` never closes it (not
	# even for "Connection: close"), so local runs render the VCL without it.
	# @render-begin probe
	.probe = {
		.url = "/healthz";
		.interval = 2s;
		.timeout = 1s;
		.window = 3;
		.threshold = 2;
		.initial = 2;
		.expected_response = 200;
	}
	# @render-end probe
}

# Who may PURGE (the token is required as well). client.ip: behind a TLS
# terminator, give Varnish the PROXY protocol so that this is the real client.
acl edge_purgers {
	# @render-begin purge-from
	"127.0.0.0"/8;
	"::1";
	# @render-end purge-from
}

sub vcl_init {
	# Only for its key() method: the low 32 bits of SHA-256 of a string.
	new edge_digest = directors.shard();
}

# --------------------------------------------------------------------------
# Client side

sub vcl_recv {
	if (req.restarts == 0) {
		# Our markers travel between subroutines in req.http.X-Edge-*:
		# never take them from a client.
		unset req.http.X-Edge-State;
		unset req.http.X-Edge-Revalidate;
		unset req.http.X-Edge-Stale-If-Error;
		unset req.http.X-Edge-Ttl;
		unset req.http.X-Edge-Detail;
		unset req.http.X-Edge-Purged;
	}
	if (req.method == "PURGE") {
		call edge_purge;
	}
	if (req.http.host ~ "[[:upper:]]") {
		set req.http.host = req.http.host.lower();
	}
	if (!req.http.host && req.proto == "HTTP/1.1") {
		return (synth(400, "Host required"));
	}
	if (req.method == "PRI") {
		return (synth(405, "Method not allowed"));
	}
	if (req.method != "GET" && req.method != "HEAD") {
		set req.http.X-Edge-State = "method";
		return (pass);
	}
	if (req.http.Authorization || req.http.Cookie) {
		# Personal: neither looked up nor stored (RFC 9111 §3.5).
		set req.http.X-Edge-State = "bypass";
		return (pass);
	}
	if (req.http.X-Edge-Revalidate) {
		# Restarted by vcl_hit: the stored copy is past its
		# stale-while-revalidate window. With no grace, the lookup is a miss
		# and the fetch is conditional (If-None-Match from the stored ETag,
		# kept for that by beresp.keep).
		set req.grace = 0s;
	} elsif (req.http.X-Edge-Stale-If-Error) {
		# Restarted after that revalidation failed: find the stale copy
		# again (req.grace survives a restart; this restores the object's own).
		set req.grace = 1y;
	}
	return (hash);
}

sub vcl_hit {
	set req.http.X-Edge-Ttl = std.integer(duration = obj.ttl);
	if (obj.ttl >= 0s) {
		set req.http.X-Edge-State = "hit";
		return (deliver);
	}
	# Stale. RFC 9211's ttl is negative, and an integer: round away from zero.
	if (std.duration(req.http.X-Edge-Ttl + "s", 0s) > obj.ttl) {
		set req.http.X-Edge-Ttl = std.integer(duration = obj.ttl) - 1;
	}
	if (req.http.X-Edge-Stale-If-Error) {
		# Restarted after the revalidation failed: serve inside stale-if-error, never beyond.
		if (obj.ttl + std.duration(obj.http.X-Edge-Sie + "s", 0s) >= 0s) {
			set req.http.X-Edge-State = "hit";
			set req.http.X-Edge-Detail = "stale-if-error";
			return (deliver);
		}
		return (synth(503, "Origin unavailable"));
	}
	if (obj.ttl + std.duration(obj.http.X-Edge-Swr + "s", 0s) >= 0s) {
		# Served while Varnish refreshes it in the background (RFC 5861 §3).
		set req.http.X-Edge-State = "hit";
		set req.http.X-Edge-Detail = "stale-while-revalidate";
		return (deliver);
	}
	if (!std.healthy(req.backend_hint) &&
	    obj.ttl + std.duration(obj.http.X-Edge-Sie + "s", 0s) >= 0s) {
		# The probe says the Worker is down: no need to try it first.
		set req.http.X-Edge-State = "hit";
		set req.http.X-Edge-Detail = "stale-if-error";
		return (deliver);
	}
	# Too stale to serve without asking the Worker. Varnish 7.1 has no
	# return (miss) in vcl_hit: restart, and look up again without grace.
	set req.http.X-Edge-Revalidate = "1";
	return (restart);
}

sub vcl_miss {
	if (req.http.X-Edge-Stale-If-Error) {
		# The revalidation failed and the stored copy is gone or past its windows.
		return (synth(503, "Origin unavailable"));
	}
	if (req.http.X-Edge-Revalidate) {
		set req.http.X-Edge-State = "stale";
	} else {
		set req.http.X-Edge-State = "miss";
	}
	return (fetch);
}

sub vcl_pass {
	if (!req.http.X-Edge-State) {
		set req.http.X-Edge-State = "bypass";
	}
	return (fetch);
}

sub vcl_deliver {
	call edge_stale_if_error;
	if (req.http.X-Edge-State == "method" && resp.status < 400 &&
	    req.method ~ "^(POST|PUT|PATCH|DELETE)$") {
		# RFC 9111 §4.4: a successful unsafe request invalidates the stored
		# answers for its target URI.
		std.ban("obj.http.X-Edge-Uri == " + blob.encode(HEX, blob = blob.decode(encoded = req.http.host + " " + req.url)));
	}
	if (req.http.X-Edge-State == "hit") {
		set req.http.X-Edge-Member = "tiercache-edge; hit; ttl=" + req.http.X-Edge-Ttl;
		if (req.http.X-Edge-Detail) {
			set req.http.X-Edge-Member = req.http.X-Edge-Member + "; detail=" + req.http.X-Edge-Detail;
		}
	} elsif (req.http.X-Edge-State == "miss" || req.http.X-Edge-State == "stale") {
		set req.http.X-Edge-Member = "tiercache-edge; fwd=" + req.http.X-Edge-State;
		if (resp.http.X-Edge-Error) {
			set req.http.X-Edge-Member = req.http.X-Edge-Member + "; detail=fetch-failed";
		} else {
			if (req.http.X-Edge-State == "stale" && resp.http.X-Edge-Was-304) {
				set req.http.X-Edge-Member = req.http.X-Edge-Member + "; fwd-status=304";
			}
			if (!obj.uncacheable) {
				set req.http.X-Edge-Member = req.http.X-Edge-Member + "; stored";
			}
		}
	} elsif (req.http.X-Edge-State == "method") {
		set req.http.X-Edge-Member = "tiercache-edge; fwd=method";
	} else {
		set req.http.X-Edge-Member = "tiercache-edge; fwd=bypass";
	}
	call edge_append_cache_status;
	unset resp.http.xkey;
	# Targeted at surrogates, of which we are the last (Edge Architecture 1.0).
	unset resp.http.Surrogate-Control;
	unset resp.http.X-Edge-Swr;
	unset resp.http.X-Edge-Sie;
	unset resp.http.X-Edge-Uri;
	unset resp.http.X-Edge-Error;
	unset resp.http.X-Edge-Was-304;
	unset resp.http.X-Edge-Uncacheable;
	return (deliver);
}

sub vcl_synth {
	call edge_stale_if_error;
	set resp.http.Content-Type = "application/json";
	set resp.http.Cache-Control = "no-store";
	if (req.http.X-Edge-Purged) {
		set resp.http.X-Purged = req.http.X-Edge-Purged;
		set resp.body = {"{"purged":"} + req.http.X-Edge-Purged + "}";
		return (deliver);
	}
	if (resp.status == 503) {
		set resp.http.Retry-After = "5";
		set req.http.X-Edge-Member = "tiercache-edge; fwd=stale; detail=origin-unavailable";
		call edge_append_cache_status;
		set resp.body = {"{"error":{"code":"origin_unavailable","message":"The origin is unavailable and no stored answer may be served." }}"};
	} elsif (resp.status == 400) {
		set resp.body = {"{"error":{"code":"invalid_request","message":""} + resp.reason + {"" }}"};
	} elsif (resp.status == 401) {
		set resp.body = {"{"error":{"code":"unauthorized","message":""} + resp.reason + {"" }}"};
	} elsif (resp.status == 403) {
		set resp.body = {"{"error":{"code":"forbidden","message":""} + resp.reason + {"" }}"};
	} else {
		set resp.body = {"{"error":{"code":"edge_error","message":""} + resp.reason + {"" }}"};
	}
	return (deliver);
}

# A revalidation that failed (the Worker unreachable, or 500/502/503/504):
# look up again to serve the stored copy inside its stale-if-error window
# (RFC 5861 §4), or a 503 past it.
sub edge_stale_if_error {
	if (req.http.X-Edge-State == "stale" && !req.http.X-Edge-Stale-If-Error &&
	    (resp.status == 500 || resp.status == 502 || resp.status == 503 || resp.status == 504)) {
		set req.http.X-Edge-Stale-If-Error = "1";
		unset req.http.X-Edge-Revalidate;
		return (restart);
	}
}

# RFC 9211: each cache appends its member; ours is the last, nearest the client.
sub edge_append_cache_status {
	std.collect(resp.http.Cache-Status, ", ");
	if (resp.http.Cache-Status) {
		set resp.http.Cache-Status = resp.http.Cache-Status + ", " + req.http.X-Edge-Member;
	} else {
		set resp.http.Cache-Status = req.http.X-Edge-Member;
	}
	unset req.http.X-Edge-Member;
}

# --------------------------------------------------------------------------
# Purge: PURGE <any path> with X-Purge-Token and one of
#   xkey-purge: <keys>      hard purge (space-separated surrogate keys)
#   xkey-softpurge: <keys>  soft purge (stale: served per its windows while refreshed)
#   X-Purge-All: 1          everything
# → 200 with X-Purged: <objects>; 403 not from loopback; 401 bad token; 400 no key.

sub edge_purge {
	if (client.ip !~ edge_purgers) {
		return (synth(403, "Purging is allowed from loopback only"));
	}
	if (!req.http.X-Purge-Token) {
		return (synth(401, "X-Purge-Token required"));
	}
	call edge_purge_token_check;
	if (req.http.X-Purge-All) {
		if (req.http.X-Purge-All != "1") {
			return (synth(400, "X-Purge-All must be 1"));
		}
		# Every stored answer carries this key (vcl_backend_response); the ban
		# catches objects stored before this VCL was loaded.
		set req.http.X-Edge-Purged = xkey.purge("tiercache-edge:all");
		std.ban("obj.status != 0");
		return (synth(200, "Purged"));
	}
	if (!req.http.xkey-purge && !req.http.xkey-softpurge) {
		return (synth(400, "One of xkey-purge, xkey-softpurge or X-Purge-All required"));
	}
	std.collect(req.http.xkey-purge, " ");
	std.collect(req.http.xkey-softpurge, " ");
	if (req.http.xkey-purge && req.http.xkey-softpurge) {
		set req.http.X-Edge-Purged = xkey.purge(req.http.xkey-purge) + xkey.softpurge(req.http.xkey-softpurge);
	} elsif (req.http.xkey-purge) {
		set req.http.X-Edge-Purged = xkey.purge(req.http.xkey-purge);
	} else {
		set req.http.X-Edge-Purged = xkey.softpurge(req.http.xkey-softpurge);
	}
	return (synth(200, "Purged"));
}

# The token check compares 4 × 32 bits of SHA-256 of the prefixed token
# (edge_digest.key) as integers: its time does not depend on how much of a
# guess is right, and only digests of the token are written in the rendered VCL.
# @render-begin purge-token
sub edge_purge_token_check {
	# No token configured (this file as shipped): refuse every purge.
	return (synth(401, "No purge token is configured"));
}
# @render-end purge-token

# --------------------------------------------------------------------------
# Backend side

sub vcl_backend_fetch {
	if (bereq.method == "GET") {
		unset bereq.body;
	}
	if (bereq.http.X-Edge-Revalidate) {
		# A stale copy is being revalidated: keep it if this fetch fails.
		var.set("revalidate", "1");
	}
	unset bereq.http.X-Edge-State;
	unset bereq.http.X-Edge-Revalidate;
	unset bereq.http.X-Edge-Stale-If-Error;
	unset bereq.http.X-Edge-Ttl;
	unset bereq.http.X-Edge-Detail;
	return (fetch);
}

sub vcl_backend_response {
	unset beresp.http.X-Edge-Swr;
	unset beresp.http.X-Edge-Sie;
	unset beresp.http.X-Edge-Uri;
	unset beresp.http.X-Edge-Error;
	unset beresp.http.X-Edge-Was-304;
	unset beresp.http.X-Edge-Uncacheable;
	unset beresp.http.X-Edge-Cc;
	if (bereq.uncacheable) {
		# A pass (method, Authorization, Cookie): never stored.
		return (deliver);
	}
	if (beresp.was_304) {
		set beresp.http.X-Edge-Was-304 = "1";
	}

	# Surrogate keys: xkey indexes the xkey header (space- or comma-separated).
	# Every stored answer also gets the key that X-Purge-All purges.
	unset beresp.http.xkey;
	std.collect(beresp.http.Surrogate-Key, " ");
	if (beresp.http.Surrogate-Key) {
		set beresp.http.xkey = beresp.http.Surrogate-Key + " tiercache-edge:all";
	} else {
		set beresp.http.xkey = "tiercache-edge:all";
	}
	# For RFC 9111 §4.4 invalidation by an unsafe request (vcl_deliver).
	set beresp.http.X-Edge-Uri = blob.encode(HEX, blob = blob.decode(encoded = bereq.http.host + " " + bereq.url));

	if (beresp.status >= 500) {
		# First: a refresh that failed must not supersede the stale copy.
		call edge_keep_stale_copy;
		set beresp.http.X-Edge-Uncacheable = "server error";
		call edge_hit_for_miss;
	}
	# Never stored (RFC 9111 §3): private or no-store in Cache-Control,
	# whatever CDN-Cache-Control says; Set-Cookie; Vary: *.
	std.collect(beresp.http.Cache-Control, ", ");
	std.collect(beresp.http.CDN-Cache-Control, ", ");
	std.collect(beresp.http.Vary, ", ");
	if (beresp.http.Cache-Control ~ "(?i)(^|[\s,])(private|no-store)\s*(=|,|$)") {
		set beresp.http.X-Edge-Uncacheable = "private or no-store";
		call edge_hit_for_miss;
	}
	if (beresp.http.Set-Cookie) {
		set beresp.http.X-Edge-Uncacheable = "Set-Cookie";
		call edge_hit_for_miss;
	}
	if (beresp.http.Vary ~ "(^|,)\s*\*\s*(,|$)") {
		set beresp.http.X-Edge-Uncacheable = "Vary: *";
		call edge_hit_for_miss;
	}

	# Which directives govern us: CDN-Cache-Control (RFC 9213), else
	# Surrogate-Control (Edge Architecture 1.0, what Fastly reads), else
	# Cache-Control (RFC 9111) as any shared cache.
	std.collect(beresp.http.Surrogate-Control, ", ");
	if (beresp.http.CDN-Cache-Control || beresp.http.Surrogate-Control) {
		if (beresp.http.CDN-Cache-Control) {
			set beresp.http.X-Edge-Cc = beresp.http.CDN-Cache-Control;
		} else {
			set beresp.http.X-Edge-Cc = beresp.http.Surrogate-Control;
		}
		# The browser's Cache-Control (max-age=0) is not for us.
		if (beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])(private|no-store|no-cache)\s*(=|,|$)") {
			set beresp.http.X-Edge-Uncacheable = "CDN-Cache-Control or Surrogate-Control";
			call edge_hit_for_miss;
		}
		if (beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])max-age\s*=\s*\x22?\d+") {
			# From the answer's Age on, which Varnish has already accounted for.
			set beresp.ttl = std.duration(regsub(beresp.http.X-Edge-Cc,
			    "(?i)^(.*[\s,])?max-age\s*=\s*\x22?(\d+).*$", "\2") + "s", 0s);
		} else {
			set beresp.ttl = 0s;
		}
	} else {
		# Varnish has computed beresp.ttl from s-maxage, max-age or Expires
		# (RFC 9111 §4.2.1), or set default_ttl when there is none: we do no
		# heuristic caching.
		set beresp.http.X-Edge-Cc = beresp.http.Cache-Control;
		if (beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])no-cache\s*(=|,|$)") {
			set beresp.http.X-Edge-Uncacheable = "no-cache";
			call edge_hit_for_miss;
		}
		if (beresp.http.X-Edge-Cc !~ "(?i)(^|[\s,])(s-maxage|max-age)\s*=" && !beresp.http.Expires) {
			set beresp.ttl = 0s;
		}
	}
	call edge_stale_windows;
	unset beresp.http.X-Edge-Cc;

	if (std.duration(beresp.http.X-Edge-Swr + "s", 0s) > std.duration(beresp.http.X-Edge-Sie + "s", 0s)) {
		set beresp.grace = std.duration(beresp.http.X-Edge-Swr + "s", 0s);
	} else {
		set beresp.grace = std.duration(beresp.http.X-Edge-Sie + "s", 0s);
	}
	if (beresp.ttl <= 0s && beresp.grace <= 0s) {
		set beresp.http.X-Edge-Uncacheable = "not fresh";
		call edge_hit_for_miss;
	}
	# Past its windows, a copy is kept only to revalidate it with its ETag.
	set beresp.keep = 1h;
	return (deliver);
}

# RFC 5861 windows from the governing directives, in seconds, stored with the
# object (vcl_hit reads them): X-Edge-Swr, X-Edge-Sie.
sub edge_stale_windows {
	set beresp.http.X-Edge-Swr = "0";
	set beresp.http.X-Edge-Sie = "0";
	if (beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])(must-revalidate|proxy-revalidate)\s*(=|,|$)" ||
	    (!beresp.http.CDN-Cache-Control && !beresp.http.Surrogate-Control &&
	     beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])s-maxage\s*=")) {
		# RFC 9111 §5.2.2.2, §5.2.2.8, §5.2.2.10: never stale.
		return;
	}
	if (beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])stale-while-revalidate\s*=\s*\x22?\d+") {
		set beresp.http.X-Edge-Swr = regsub(beresp.http.X-Edge-Cc,
		    "(?i)^(.*[\s,])?stale-while-revalidate\s*=\s*\x22?(\d+).*$", "\2");
	}
	if (beresp.http.X-Edge-Cc ~ "(?i)(^|[\s,])stale-if-error\s*=\s*\x22?\d+") {
		set beresp.http.X-Edge-Sie = regsub(beresp.http.X-Edge-Cc,
		    "(?i)^(.*[\s,])?stale-if-error\s*=\s*\x22?(\d+).*$", "\2");
	}
}

# Not stored: requests for this URL go to the Worker, one by one (no request
# coalescing), for the next 60 s or until an answer may be stored.
sub edge_hit_for_miss {
	set beresp.ttl = 60s;
	set beresp.grace = 0s;
	set beresp.keep = 0s;
	set beresp.uncacheable = true;
	return (deliver);
}

# A refresh that failed must not replace the stale copy (any object inserted
# now, even an uncacheable one, would supersede it): abandon the fetch. A
# background refresh then simply ends; a revalidation's client gets
# vcl_synth with 503, which serves the copy inside stale-if-error.
sub edge_keep_stale_copy {
	if ((bereq.is_bgfetch || var.get("revalidate") == "1") &&
	    (beresp.status == 500 || beresp.status == 502 || beresp.status == 503 || beresp.status == 504)) {
		return (abandon);
	}
}

sub vcl_backend_error {
	# The Worker is unreachable (or sick, per the probe).
	call edge_keep_stale_copy;
	set beresp.http.Content-Type = "application/json";
	set beresp.http.Cache-Control = "no-store";
	set beresp.http.Retry-After = "5";
	set beresp.http.X-Edge-Error = "1";
	set beresp.body = {"{"error":{"code":"origin_unavailable","message":"The edge could not fetch the answer from the origin." }}"};
	return (deliver);
}
