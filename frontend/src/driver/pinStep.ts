// The pickup PIN step of starting a trip. The driver app cannot know whether
// the trip's city asks for a PIN, so it starts without one; a 422 `wrong_pin`
// then asks the driver for the rider's PIN, and each wrong one says how many
// tries are left (5 wrong ones cancel the trip, API.md). Pure state.
import type { StartRequest } from "../common/contracts";

export interface PinStep {
  /** The backend asked for a PIN: show the field. */
  asked: boolean;
  /** The last PIN sent was wrong. */
  wrong: boolean;
  /** From the last refusal's `details.attempts_left`. */
  attemptsLeft: number | null;
}

export const NO_PIN_YET: PinStep = { asked: false, wrong: false, attemptsLeft: null };

export const isPin = (text: string): boolean => /^[0-9]{4}$/.test(text);

/** The body of the next start: none until a PIN was asked for. */
export function startBody(step: PinStep, pin: string): StartRequest | undefined {
  return step.asked ? { pin } : undefined;
}

/** `details.attempts_left` of a `wrong_pin` refusal, if it is a count. */
export function attemptsLeftOf(details: Record<string, unknown> | null | undefined): number | null {
  const n = details?.attempts_left;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : null;
}

/** The step after a start was refused with `wrong_pin`; `sent` is the body
 * that start carried (a start without a PIN is not a wrong PIN). */
export function pinRefused(sent: StartRequest | undefined, details: Record<string, unknown> | null | undefined): PinStep {
  return { asked: true, wrong: sent?.pin !== undefined, attemptsLeft: attemptsLeftOf(details) };
}

/** What the PIN field says above itself. */
export function pinPrompt(step: PinStep): string {
  if (!step.wrong) return "Ask the rider for their 4-digit PIN";
  const left = step.attemptsLeft;
  if (left === null) return "Wrong PIN. Ask the rider again.";
  if (left === 0) return "Wrong PIN. No attempts left.";
  return `Wrong PIN. ${left} attempt${left === 1 ? "" : "s"} left.`;
}
