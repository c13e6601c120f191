import { describe, expect, it, vi } from "vitest";
import { ContractError } from "../common/contracts";
import { receiveOffer } from "./offerDelivery";

const offer = {
  trip_id: "11111111-1111-4111-8111-111111111111",
  pickup: { lat: 1.304, lng: 103.832 },
  dropoff: { lat: 1.29, lng: 103.845 },
  tier: "premium",
  distance_km: 0.4,
  expires_at: "2026-01-01T00:00:30Z",
  fare_estimate: { currency: "SGD", amount: 12.5 },
};

describe("an offer pushed to the phone", () => {
  it("is acknowledged with {ok: true} and read", () => {
    const ack = vi.fn();
    expect(receiveOffer(offer, ack).trip_id).toBe(offer.trip_id);
    expect(ack).toHaveBeenCalledTimes(1);
    expect(ack).toHaveBeenCalledWith({ ok: true });
  });
  it("is acknowledged even when its payload does not match the contract", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ack = vi.fn();
    expect(() => receiveOffer({ ...offer, trip_id: "not-a-uuid" }, ack)).toThrow(ContractError);
    expect(ack).toHaveBeenCalledWith({ ok: true });
  });
  it("without an ack callback (an old gateway) is still read", () => {
    expect(receiveOffer(offer, null).tier).toBe("premium");
  });
});
