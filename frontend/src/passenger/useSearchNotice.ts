// While the rider's trip is REQUESTED, reads its dispatch audit trail every
// 2 s and says when the search moved on from a driver who did not take it.
// Stops when the trip leaves REQUESTED or the screen goes away.
import { useEffect, useState } from "react";
import type { Api } from "../common/api";
import { TripEventList, type Trip } from "../common/contracts";
import { searchNotice } from "./searchNotice";

export const SEARCH_POLL_MS = 2000;

export function useSearchNotice(api: Api, trip: Trip | null): string | null {
  const [notice, setNotice] = useState<string | null>(null);
  const searching = trip?.status === "REQUESTED" ? trip.id : null;
  useEffect(() => {
    setNotice(null);
    if (!searching) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      try {
        const events = await api.get(`/trips/${searching}/events`, "TripEvent[]", TripEventList);
        if (live) setNotice(searchNotice(events));
      } catch {
        // A missed read only delays the notice; the trip screen shows real errors.
      }
      if (live) timer = setTimeout(poll, SEARCH_POLL_MS);
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api, searching]);
  return notice;
}
