import { describe, expect, it } from "vitest";
import { carLine, swatchColour } from "../common/vehicle";
import { emptyVehicle, fieldErrors, hasErrors, missingFields, shouldAskForVehicle, vehicleRequest } from "./vehicleForm";

const car = { make: " Toyota ", model: "Corolla Altis", color: "Silver", plate: "SBA 1234 K " };

describe("the car form", () => {
  it("sends each field trimmed", () => {
    expect(vehicleRequest(car)).toEqual({ make: "Toyota", model: "Corolla Altis", color: "Silver", plate: "SBA 1234 K" });
  });
  it("names empty and too long fields before sending", () => {
    expect(missingFields(emptyVehicle)).toEqual({ make: ["Required"], model: ["Required"], color: ["Required"], plate: ["Required"] });
    expect(missingFields({ ...car, color: "c".repeat(21) })).toEqual({ color: ["At most 20 characters"] });
    expect(hasErrors(missingFields(car))).toBe(false);
  });
  it("puts the API's field messages under their fields", () => {
    expect(fieldErrors({ plate: ["only letters, digits, spaces and dashes"] })).toEqual({ fields: { plate: ["only letters, digits, spaces and dashes"] }, other: [] });
    expect(fieldErrors({ plate: "bad", body: ["missing field"] })).toEqual({ fields: { plate: ["bad"] }, other: ["body: missing field"] });
    expect(fieldErrors(null)).toEqual({ fields: {}, other: [] });
  });
  it("reads the car as riders would say it", () => {
    expect(carLine({ make: "Toyota", model: "Prius", color: "White", plate: "S1" })).toBe("White Toyota Prius");
    const known = (c: string) => ["silver", "white"].includes(c);
    expect(swatchColour(" Silver ", known)).toBe("silver");
    expect(swatchColour("dark blue", known)).toBeNull();
    expect(swatchColour("champagne", known)).toBeNull();
    expect(swatchColour("url(x)", () => true)).toBeNull();
  });
  it("asks for the car only of an offline driver without one who did not skip it", () => {
    expect(shouldAskForVehicle({ status: "OFFLINE", vehicle: null }, false)).toBe(true);
    expect(shouldAskForVehicle({ status: "OFFLINE", vehicle: null }, true)).toBe(false);
    expect(shouldAskForVehicle({ status: "ONLINE", vehicle: null }, false)).toBe(false);
    expect(shouldAskForVehicle({ status: "OFFLINE", vehicle: { make: "a", model: "b", color: "c", plate: "d" } }, false)).toBe(false);
    expect(shouldAskForVehicle(null, false)).toBe(false);
  });
});
