// Asks for the price as soon as pickup and dropoff are both set (and again
// when either or the tier changes, and every 15 s for a fresh driver ETA).
// An answer for an older route is dropped.
import { useEffect, useState } from "react";
import type { Api } from "../common/api";
import { FareEstimate, type LatLng, type Tier } from "../common/contracts";
import { quoteFailure } from "./fareQuote";

export const ESTIMATE_REFRESH_MS = 15000;
const SETTLE_MS = 250;

export interface EstimateState {
  estimate: FareEstimate | null;
  /** The last ask failed: what to tell the rider. */
  failure: { message: string; canBook: boolean } | null;
  loading: boolean;
}

const idle: EstimateState = { estimate: null, failure: null, loading: false };

export function useFareEstimate(api: Api, pickup: LatLng | null, dropoff: LatLng | null, tier: Tier): EstimateState {
  const [state, setState] = useState<EstimateState>(idle);
  const key = pickup && dropoff ? `${pickup.lat},${pickup.lng};${dropoff.lat},${dropoff.lng};${tier}` : null;
  useEffect(() => {
    if (!pickup || !dropoff) {
      setState(idle);
      return;
    }
    let live = true;
    let timer: ReturnType<typeof setTimeout>;
    setState({ estimate: null, failure: null, loading: true });
    const ask = async () => {
      try {
        const estimate = await api.post("/trips/estimate", "FareEstimate", FareEstimate, { pickup, dropoff, tier });
        if (live) setState({ estimate, failure: null, loading: false });
      } catch (e) {
        if (live) setState({ estimate: null, failure: quoteFailure(e), loading: false });
      }
      if (live) timer = setTimeout(ask, ESTIMATE_REFRESH_MS);
    };
    timer = setTimeout(ask, SETTLE_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, key]); // eslint-disable-line react-hooks/exhaustive-deps
  return state;
}
