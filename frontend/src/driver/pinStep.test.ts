import { describe, expect, it } from "vitest";
import { attemptsLeftOf, isPin, NO_PIN_YET, pinPrompt, pinRefused, startBody } from "./pinStep";

describe("the pickup PIN step", () => {
  it("starts without a PIN until the backend asks for one", () => {
    expect(startBody(NO_PIN_YET, "1234")).toBeUndefined();
  });
  it("a refusal of a start without a PIN asks for it, and is not a wrong PIN", () => {
    const step = pinRefused(undefined, { attempts_left: 5 });
    expect(step).toEqual({ asked: true, wrong: false, attemptsLeft: 5 });
    expect(pinPrompt(step)).toBe("Ask the rider for their 4-digit PIN");
    expect(startBody(step, "0427")).toEqual({ pin: "0427" });
  });
  it("a wrong PIN says how many attempts are left", () => {
    expect(pinPrompt(pinRefused({ pin: "1111" }, { attempts_left: 4 }))).toBe("Wrong PIN. 4 attempts left.");
    expect(pinPrompt(pinRefused({ pin: "1111" }, { attempts_left: 1 }))).toBe("Wrong PIN. 1 attempt left.");
    expect(pinPrompt(pinRefused({ pin: "1111" }, { attempts_left: 0 }))).toBe("Wrong PIN. No attempts left.");
    expect(pinPrompt(pinRefused({ pin: "1111" }, null))).toBe("Wrong PIN. Ask the rider again.");
  });
  it("reads attempts_left only when it is a count", () => {
    expect(attemptsLeftOf({ attempts_left: 3 })).toBe(3);
    expect(attemptsLeftOf({ attempts_left: "3" })).toBeNull();
    expect(attemptsLeftOf({ attempts_left: -1 })).toBeNull();
    expect(attemptsLeftOf(undefined)).toBeNull();
  });
  it("a PIN is exactly four digits", () => {
    expect(isPin("0427")).toBe(true);
    expect(isPin("427")).toBe(false);
    expect(isPin("04270")).toBe(false);
    expect(isPin("04a7")).toBe(false);
  });
});
