/** Wall-clock helpers shared by the benchmarks, the campaign's compute floor and evaluation. */

/** Calls `f` `times` times in sequence, appends each call's wall time (ms) to `into` and returns it. */
export async function timeCalls(f: () => Promise<unknown>, times: number, into: number[] = []): Promise<number[]> {
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await f();
    into.push(performance.now() - t0);
  }
  return into;
}

/** The lower median (the middle value, or the lower of the two middle ones); NaN when empty. Does not modify `values`. */
export function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
}
