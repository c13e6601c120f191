// A car as riders read it off the street. Pure.
import type { Vehicle } from "./contracts";

/** "Silver Toyota Corolla Altis". */
export function carLine(v: Vehicle): string {
  return `${v.color} ${v.make} ${v.model}`;
}

/** The colour a swatch beside the colour's name can take: the name itself
 * when the browser knows it as a colour ("Silver", "dark blue" does not
 * count), else null for a plain outline. */
export function swatchColour(name: string, isColour: (c: string) => boolean): string | null {
  const c = name.trim().toLowerCase();
  return /^[a-z]+$/.test(c) && isColour(c) ? c : null;
}

export const browserKnowsColour = (c: string): boolean => typeof CSS !== "undefined" && CSS.supports("color", c);
