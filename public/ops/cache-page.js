// The /_cache page: polls /v1/_cache/stats with the admin token kept in
// sessionStorage (never a URL or a cookie), charts the deltas with uPlot,
// and purges tags through POST /v1/_cache/purge (the webhook's code path).
(() => {
	const KEY = "tiercache.adminToken";
	const POLL_MS = 2000;
	const KEEP = 90;
	const $ = (id) => document.getElementById(id);
	const tiers = ["memory", "colo", "kv"];
	let previous;
	let timer;
	const series = { t: [], memory: [], colo: [], kv: [], loads: [], stale: [], errors: [] };
	let hitsChart;
	let originChart;

	const token = () => sessionStorage.getItem(KEY);

	function showSignedIn(signedIn) {
		$("signin-form").hidden = signedIn;
		$("app").hidden = !signedIn;
	}

	async function api(path, init = {}) {
		const res = await fetch(path, {
			...init,
			cache: "no-store",
			headers: { ...(init.headers || {}), Authorization: `Bearer ${token()}` },
		});
		if (res.status === 401) {
			signOut("the token was refused");
			throw new Error("unauthorized");
		}
		return res;
	}

	function charts() {
		const width = Math.min(1060, document.body.clientWidth - 20);
		const common = { width, height: 200, scales: { x: { time: true } }, legend: { live: false } };
		hitsChart = new uPlot(
			{
				...common,
				scales: { ...common.scales, y: { range: [0, 1] } },
				series: [
					{},
					{ label: "memory", stroke: "#10b981" },
					{ label: "colo", stroke: "#3b82f6" },
					{ label: "kv", stroke: "#f59e0b" },
				],
			},
			[[], [], [], []],
			$("chart-hits"),
		);
		originChart = new uPlot(
			{
				...common,
				series: [
					{},
					{ label: "origin loads/s", stroke: "#ef4444" },
					{ label: "stale/s", stroke: "#8b5cf6" },
					{ label: "errors/s", stroke: "#111" },
				],
			},
			[[], [], [], []],
			$("chart-origin"),
		);
	}

	const staleOf = (s) => s.served.staleWhileRevalidate + s.served.staleIfError + s.served.softInvalidated;
	const errorsOf = (s) => s.origin.errors + tiers.reduce((n, t) => n + s.tiers[t].errors, 0);

	function render(s) {
		$("requests").textContent = s.requests;
		$("origin-loads").textContent = s.origin.loads;
		for (const t of tiers) $(`hits-${t}`).textContent = s.tiers[t].hits;
		$("stale").textContent = staleOf(s);
		$("errors").textContent = errorsOf(s);
		$("memory-bytes").textContent =
			`${(s.memory.bytes / 1048576).toFixed(1)} / ${(s.memory.maxBytes / 1048576).toFixed(0)} MiB`;
		const now = Date.now() / 1000;
		if (previous) {
			const dt = Math.max(0.001, now - previous.at);
			series.t.push(now);
			for (const t of tiers) {
				const hits = s.tiers[t].hits - previous.s.tiers[t].hits;
				const misses = s.tiers[t].misses - previous.s.tiers[t].misses;
				series[t].push(hits + misses > 0 ? hits / (hits + misses) : null);
			}
			series.loads.push((s.origin.loads - previous.s.origin.loads) / dt);
			series.stale.push((staleOf(s) - staleOf(previous.s)) / dt);
			series.errors.push((errorsOf(s) - errorsOf(previous.s)) / dt);
			for (const k of Object.keys(series)) if (series[k].length > KEEP) series[k].shift();
			hitsChart.setData([series.t, series.memory, series.colo, series.kv]);
			originChart.setData([series.t, series.loads, series.stale, series.errors]);
		}
		previous = { s, at: now };
		const q = s.queue;
		const rows = [
			["batches consumed here", q.batches],
			["purged / retried / rejected", `${q.purged} / ${q.retried} / ${q.rejected}`],
			["hot keys re-warmed", q.rewarmed],
			["answers stored without a load (skipped)", `${s.stored.answers} (${s.stored.skipped})`],
			["last batch", q.lastBatchAt || "–"],
			["invalidations seen here", s.purges.invalidations],
			["enqueue errors", s.purges.enqueueErrors],
			["clock: D1 reads / shared reads", `${s.clock.d1Reads} / ${s.clock.sharedReads}`],
			["clock: counter, view age", `${s.clock.counter}, ${s.clock.viewAgeMs} ms`],
			[
				"clock: announcements (unconfirmed) / failed looks",
				`${s.clock.announcements} (${s.clock.announceFailures}) / ${s.clock.headLookFailures}`,
			],
		];
		$("queue").replaceChildren(...rows.map(([k, v]) => row([k, String(v)])));
		$("recent").replaceChildren(
			...[...s.recent]
				.reverse()
				.map((e) => row([e.at, e.source, String(e.seq), e.floor ? "(everything)" : e.tags.join(" ")])),
		);
		$("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
	}

	function row(cells) {
		const tr = document.createElement("tr");
		for (const cell of cells) {
			const td = document.createElement("td");
			td.textContent = cell;
			tr.append(td);
		}
		return tr;
	}

	async function poll() {
		try {
			const res = await api("/v1/_cache/stats");
			if (res.ok) render(await res.json());
			else $("status").textContent = `stats answered ${res.status}`;
		} catch (err) {
			if (err.message !== "unauthorized") $("status").textContent = `stats failed: ${err.message}`;
		}
	}

	function start() {
		showSignedIn(true);
		if (!hitsChart) charts();
		poll();
		clearInterval(timer);
		timer = setInterval(poll, POLL_MS);
	}

	function signOut(reason) {
		sessionStorage.removeItem(KEY);
		clearInterval(timer);
		showSignedIn(false);
		$("signin-error").textContent = reason || "";
	}

	$("signin-form").addEventListener("submit", (event) => {
		event.preventDefault();
		const value = $("token").value.trim();
		if (!value) return;
		sessionStorage.setItem(KEY, value);
		$("token").value = "";
		$("signin-error").textContent = "";
		start();
	});
	$("signout").addEventListener("click", () => signOut());
	$("purge-form").addEventListener("submit", async (event) => {
		event.preventDefault();
		const tags = $("purge-tags")
			.value.split(/[\s,]+/)
			.filter(Boolean);
		const out = $("purge-result");
		if (tags.length === 0) return;
		try {
			const res = await api("/v1/_cache/purge", {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ tags }),
			});
			const body = await res.json();
			out.className = res.ok ? "ok" : "error";
			out.textContent = res.ok ? `purged ${body.tags.join(" ")} (seq ${body.seq})` : body.error.message;
			if (res.ok) poll();
		} catch (err) {
			out.className = "error";
			out.textContent = err.message;
		}
	});
	if (token()) start();
})();
