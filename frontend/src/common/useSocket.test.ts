import { describe, expect, it } from "vitest";
import { isTokenExpired } from "./useSocket";

describe("socket token expiry", () => {
  it("is the gateway's error event with code token_expired", () => {
    expect(isTokenExpired("error", { code: "token_expired", message: "the token has expired; reconnect with a fresh one" })).toBe(true);
    expect(isTokenExpired("error", { code: "token_expired" })).toBe(true);
  });
  it("is not any other event or error", () => {
    expect(isTokenExpired("trip:update", { code: "token_expired" })).toBe(false);
    expect(isTokenExpired("error", { code: "rate_limited", message: "slow down" })).toBe(false);
    expect(isTokenExpired("error", "token_expired")).toBe(false);
    expect(isTokenExpired("error", null)).toBe(false);
    expect(isTokenExpired("error", undefined)).toBe(false);
  });
});
