import { beforeEach, describe, expect, it, vi } from "vitest";
import { clearSession, loadSession, saveSession, sessionFrom, wrongAppMessage } from "./session";
import { detailsSentence, friendlyMessage } from "./api";
import { check, ContractError, Trip } from "./contracts";

// Node has no localStorage: a Map-backed stand-in with the same methods.
beforeEach(() => {
  const m = new Map<string, string>();
  globalThis.localStorage = {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    clear: () => m.clear(),
    key: (i: number) => [...m.keys()][i] ?? null,
    get length() {
      return m.size;
    },
  } as Storage;
});

const auth = (role: "rider" | "driver") => ({
  user: { id: "11111111-1111-4111-8111-111111111111", email: "r@example.com", name: "R", role, created_at: "2026-01-01T00:00:00Z" },
  access_token: "token",
  token_type: "Bearer" as const,
  expires_in: 3600,
});

describe("sessions", () => {
  it("survive a reload until the token expires", () => {
    const s = sessionFrom(auth("rider"), 1_000);
    expect(s.expiresAt).toBe(3_601_000);
    saveSession(s);
    expect(loadSession("rider", 2_000)).toEqual({ session: s, notice: null });
  });
  it("an expired one is dropped with a message to log in again", () => {
    saveSession(sessionFrom(auth("rider"), 0));
    const later = loadSession("rider", 3_600_001);
    expect(later.session).toBeNull();
    expect(later.notice).toMatch(/expired\. Log in again/);
    expect(loadSession("rider", 0)).toEqual({ session: null, notice: null });
  });
  it("the rider and driver apps keep separate sessions", () => {
    saveSession(sessionFrom(auth("driver"), 0));
    expect(loadSession("rider", 1).session).toBeNull();
    expect(loadSession("driver", 1).session?.user.role).toBe("driver");
    clearSession("driver");
    expect(loadSession("driver", 1).session).toBeNull();
  });
  it("a corrupt entry is treated as logged out", () => {
    localStorage.setItem("hail.session.rider", "{nope");
    expect(loadSession("rider")).toEqual({ session: null, notice: null });
  });
});

describe("which account may use which app", () => {
  it("each app takes its own role", () => {
    expect(wrongAppMessage("rider", "rider")).toBeNull();
    expect(wrongAppMessage("driver", "driver")).toBeNull();
  });
  it("the passenger and driver apps send other accounts to their own app", () => {
    expect(wrongAppMessage("rider", "driver")).toMatch(/driver account.*\/driver\//);
    expect(wrongAppMessage("driver", "rider")).toMatch(/rider account.*passenger app/);
    expect(wrongAppMessage("rider", "support")).toMatch(/support account.*\/support\//);
    expect(wrongAppMessage("driver", "support")).toMatch(/support account/);
  });
  it("the support page lets any account in and says itself who it is for", () => {
    expect(wrongAppMessage("support", "rider")).toBeNull();
    expect(wrongAppMessage("support", "driver")).toBeNull();
  });
});

describe("error messages", () => {
  it("say what to do next", () => {
    expect(friendlyMessage(503, "unavailable", "redis down")).toMatch(/unavailable.*retrying/);
    expect(friendlyMessage(0, "network", "")).toMatch(/Cannot reach Hail/);
    expect(friendlyMessage(500, "internal", "boom")).toMatch(/Try again/);
    expect(friendlyMessage(409, "active_trip_exists", "You already have an active trip.")).toBe("You already have an active trip.");
  });
  it("list a 422's field problems", () => {
    expect(detailsSentence({ email: ["must be an email"], password: ["too short", "too common"] })).toBe(
      "email: must be an email; password: too short, too common",
    );
    expect(detailsSentence(null)).toBe("");
  });
});

describe("contract checks", () => {
  it("refuse an answer that does not match, naming the field", () => {
    // check() also logs the mismatch for whoever watches the console; not here.
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() => check("Trip", Trip, { id: "x" })).toThrow(ContractError);
    expect(() => check("Trip", Trip, { id: "x" })).toThrow(/id/);
  });
});
