import { describe, expect, it } from "vitest";
import { FlightTimeoutError, SingleFlight } from "../src/single-flight.js";

describe("SingleFlight", () => {
	it("runs one call per key and gives every waiter its result", async () => {
		const flight = new SingleFlight<number>();
		let runs = 0;
		let coalesced = 0;
		let release!: (n: number) => void;
		const work = () => {
			runs++;
			return new Promise<number>((r) => {
				release = r;
			});
		};
		const calls = [1, 2, 3].map(() => flight.run("k", work, () => coalesced++));
		release(42);
		expect(await Promise.all(calls)).toEqual([42, 42, 42]);
		expect([runs, coalesced, flight.size]).toEqual([1, 2, 0]);
	});

	it("passes a failure to every waiter, then runs again for the next caller", async () => {
		const flight = new SingleFlight<number>();
		const failing = () => Promise.reject(new Error("origin down"));
		const [a, b] = [flight.run("k", failing), flight.run("k", failing)];
		await expect(a).rejects.toThrow("origin down");
		await expect(b).rejects.toThrow("origin down");
		expect(await flight.run("k", async () => 7)).toBe(7);
	});

	it("lets a waiter give up after waitMs, so a stuck load never hangs other requests", async () => {
		const flight = new SingleFlight<number>(20);
		void flight.run("k", () => new Promise<number>(() => {}));
		await expect(flight.run("k", async () => 1)).rejects.toBeInstanceOf(FlightTimeoutError);
	});
});
