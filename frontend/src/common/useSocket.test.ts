import { describe, expect, it, vi } from "vitest";
import { deliverEvent, isTokenExpired, type AckReply, type Handlers } from "./useSocket";

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

describe("delivering a server event to its handler", () => {
  it("passes the payload, and the acknowledgement when the server asked for one", () => {
    const seen: [unknown, AckReply | null][] = [];
    const handlers: Handlers = { offer: (p, ack) => seen.push([p, ack]) };
    const reply = vi.fn();
    deliverEvent(handlers, "offer", [{ trip_id: "t" }, reply]);
    deliverEvent(handlers, "offer", [{ trip_id: "u" }]);
    expect(seen[0][0]).toEqual({ trip_id: "t" });
    expect(seen[0][1]).toBe(reply);
    expect(seen[1]).toEqual([{ trip_id: "u" }, null]);
  });
  it("an event with only an acknowledgement has no payload", () => {
    const handler = vi.fn();
    const reply = vi.fn();
    deliverEvent({ ping: handler }, "ping", [reply]);
    expect(handler).toHaveBeenCalledWith(undefined, reply);
  });
  it("a handler that throws after acknowledging is logged, and the ack still went out", () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const reply = vi.fn();
    const handlers: Handlers = {
      offer: (_p, ack) => {
        ack?.({ ok: true });
        throw new Error("bad payload");
      },
    };
    expect(() => deliverEvent(handlers, "offer", [{}, reply])).not.toThrow();
    expect(reply).toHaveBeenCalledWith({ ok: true });
    expect(log).toHaveBeenCalledWith("while handling offer", expect.any(Error));
    log.mockRestore();
  });
  it("an event nobody handles is ignored", () => {
    const reply = vi.fn();
    expect(() => deliverEvent({}, "offer", [{}, reply])).not.toThrow();
    expect(reply).not.toHaveBeenCalled();
  });
});
