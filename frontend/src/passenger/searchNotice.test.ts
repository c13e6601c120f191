import { describe, expect, it } from "vitest";
import type { AuditType } from "../common/contracts";
import { FINDING_ANOTHER, searchNotice } from "./searchNotice";

const trail = (...types: AuditType[]) => types.map((type, i) => ({ seq: i + 1, type }));

describe("the rider's search notice", () => {
  it("says nothing before any driver was lost", () => {
    expect(searchNotice([])).toBeNull();
    expect(searchNotice(trail("REQUESTED"))).toBeNull();
    expect(searchNotice(trail("REQUESTED", "OFFER_SENT"))).toBeNull();
    expect(searchNotice(trail("REQUESTED", "OFFER_SENT", "OFFER_DELIVERED"))).toBeNull();
  });
  it("says another driver is being found once an offer was missed", () => {
    for (const missed of ["OFFER_UNREACHABLE", "OFFER_EXPIRED", "OFFER_DECLINED"] as const) {
      expect(searchNotice(trail("REQUESTED", "OFFER_SENT", missed))).toBe(FINDING_ANOTHER);
    }
    expect(FINDING_ANOTHER).toBe("Finding another driver…");
  });
  it("stays while the next driver has the offer, and goes once one is assigned", () => {
    expect(searchNotice(trail("REQUESTED", "OFFER_SENT", "OFFER_UNREACHABLE", "OFFER_SENT"))).toBe(FINDING_ANOTHER);
    expect(searchNotice(trail("REQUESTED", "OFFER_SENT", "OFFER_DECLINED", "OFFER_SENT", "OFFER_DELIVERED"))).toBe(FINDING_ANOTHER);
    expect(searchNotice(trail("OFFER_SENT", "OFFER_EXPIRED", "OFFER_SENT", "OFFER_ACCEPTED", "ASSIGNED"))).toBeNull();
  });
  it("comes back when the assigned driver cancels", () => {
    expect(searchNotice(trail("OFFER_SENT", "OFFER_ACCEPTED", "ASSIGNED", "DRIVER_CANCELLED"))).toBe(FINDING_ANOTHER);
    expect(searchNotice(trail("ASSIGNED", "DRIVER_CANCELLED", "OFFER_SENT", "OFFER_ACCEPTED", "ASSIGNED"))).toBeNull();
  });
  it("finds the newest by seq, not by position in the list", () => {
    const shuffled = [
      { seq: 4, type: "ASSIGNED" as const },
      { seq: 3, type: "OFFER_UNREACHABLE" as const },
      { seq: 2, type: "OFFER_SENT" as const },
    ];
    expect(searchNotice(shuffled)).toBeNull();
    expect(searchNotice([shuffled[1], shuffled[2]])).toBe(FINDING_ANOTHER);
  });
});
