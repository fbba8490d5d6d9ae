import * as hdr from "hdr-histogram-js";

/** Latencies in microseconds, 1 µs to 60 s, 3 significant digits (HDR histogram). */
export function createLatencyHistogram() {
	const histogram = hdr.build({
		lowestDiscernibleValue: 1,
		highestTrackableValue: 60_000_000,
		numberOfSignificantValueDigits: 3,
	});
	return {
		recordMs(ms) {
			histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
		},
		percentileMs(p) {
			return histogram.getValueAtPercentile(p) / 1000;
		},
		get count() {
			return histogram.totalCount;
		},
	};
}
