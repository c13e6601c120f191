// How often the driver app moves and reports its car. The contract allows 10
// location messages a second per socket; this stays far under it.
export const SIM_SPEED_KMH = 40;
export const SIM_TICK_MS = 1000;

/** Moving: report every tick so riders see the car move; parked: every 3 s,
 * well inside the 30 s presence window. */
export function nextPingDelayMs(moving: boolean): number {
  return moving ? SIM_TICK_MS : 3000;
}

/** Messages per second the pinging above sends at most. */
export const maxPingsPerSecond = 1000 / Math.min(nextPingDelayMs(true), nextPingDelayMs(false));
