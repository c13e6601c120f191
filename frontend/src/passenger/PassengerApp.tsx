// The passenger app: book a ride on the map (its price shown first), watch
// it live (who is coming in which car, the backend's pickup ETA, the pickup
// PIN), read the receipt and rate the trip, see past trips, and the Carpool tab.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, errorText } from "../common/api";
import { CarpoolTab } from "../common/CarpoolTab";
import { check, DriverLocationEvent, NearbyList, Trip, TripList, type LatLng, type NearbyDriver, type Tier } from "../common/contracts";
import { etaFor, type PickupEta } from "../common/eta";
import { MapView, type MapMarker } from "../common/MapView";
import { SessionGate, type HomeProps } from "../common/SessionGate";
import { Alert, Shell } from "../common/Shell";
import { TripHistory } from "../common/TripHistory";
import { CITY } from "../common/geo";
import { useAction } from "../common/useAction";
import { emitAck, useSocket } from "../common/useSocket";
import { isActive, newerTrip, riderView } from "../common/tripView";
import { BookingCard } from "./BookingCard";
import { TripStatusCard } from "./TripStatusCard";
import { useFareEstimate } from "./useFareEstimate";
import { useSearchNotice } from "./useSearchNotice";

type Tab = "ride" | "carpool" | "history";

export function PassengerApp() {
  return <SessionGate role="rider" home={(props) => <RiderHome {...props} />} />;
}

function RiderHome({ session, onExpired, onLogout }: HomeProps) {
  const api = useMemo(() => new Api(session.token, onExpired), [session.token, onExpired]);
  const [tab, setTab] = useState<Tab>("ride");
  const [trip, setTrip] = useState<Trip | null>(null);
  const [car, setCar] = useState<LatLng | null>(null);
  const [pickupEta, setPickupEta] = useState<PickupEta | null>(null);
  const [pickup, setPickup] = useState<LatLng | null>(null);
  const [dropoff, setDropoff] = useState<LatLng | null>(null);
  const [picking, setPicking] = useState<"pickup" | "dropoff">("pickup");
  const [tier, setTier] = useState<Tier>("standard");
  const [nearby, setNearby] = useState<NearbyDriver[]>([]);
  const [nearbyError, setNearbyError] = useState<string | null>(null);
  const { busy, error, setError, act } = useAction();
  const [historyKey, setHistoryKey] = useState("0");
  const subscribed = useRef<string | null>(null);
  const tripRef = useRef<Trip | null>(null);
  tripRef.current = trip;
  const socketRef = useRef<ReturnType<typeof useSocket>["socket"]>(null);

  const follow = useCallback((t: Trip) => {
    setTrip((cur) => {
      const next = newerTrip(cur, t);
      if (cur && cur.id === next.id && cur.status !== next.status) setHistoryKey(String(Date.now()));
      return next;
    });
    if (isActive(t) && subscribed.current !== t.id && socketRef.current?.connected) {
      subscribed.current = t.id;
      emitAck(socketRef.current, "trip:subscribe", { trip_id: t.id }).catch(() => {
        subscribed.current = null;
      });
    }
  }, []);

  const resync = useCallback(() => {
    subscribed.current = null;
    api
      .get("/trips?limit=1", "Trip[]", TripList)
      .then((trips) => {
        const latest = trips[0];
        if (latest && isActive(latest)) follow(latest);
        // A trip that ended while we were away: show how it ended.
        else if (latest) setTrip((cur) => (cur && cur.id === latest.id ? latest : cur));
      })
      .catch((e) => setError(errorText(e)));
  }, [api, follow]);

  const sock = useSocket(
    session.token,
    {
      "trip:update": (p) => follow(check("trip:update", Trip, p)),
      "driver:location": (p) => {
        const ev = check("driver:location", DriverLocationEvent, p);
        if (tripRef.current?.id !== ev.trip_id) return;
        setCar({ lat: ev.lat, lng: ev.lng });
        setPickupEta({ tripId: ev.trip_id, secs: ev.pickup_eta_secs });
      },
    },
    () => resync(),
    onExpired,
  );
  socketRef.current = sock.socket;

  useEffect(() => {
    resync();
  }, [resync]);

  // Nearby drivers around the pickup (or the city), every few seconds while booking.
  const searching = !trip || trip.status === "REQUESTED" || !isActive(trip);
  const around = pickup ?? CITY;
  useEffect(() => {
    if (!searching) {
      setNearby([]);
      return;
    }
    let live = true;
    const load = () =>
      api
        .get(`/drivers/nearby?lat=${around.lat}&lng=${around.lng}&radius_km=5&limit=20`, "NearbyDriver[]", NearbyList)
        .then((n) => live && (setNearby(n), setNearbyError(null)))
        .catch((e) => live && setNearbyError(errorText(e)));
    load();
    const timer = setInterval(load, 3000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, searching, around.lat, around.lng]);

  const etaSecs = etaFor(pickupEta, trip?.id);
  const view = trip ? riderView(trip, car, etaSecs) : null;
  const notice = useSearchNotice(api, trip);
  const estimate = useFareEstimate(api, !trip && tab === "ride" ? pickup : null, dropoff, tier);

  async function request() {
    if (!pickup || !dropoff) return;
    await act(
      async () => {
        const t = await api.post("/trips", "Trip", Trip, { pickup, dropoff, tier });
        setCar(null);
        setPickupEta(null);
        follow(t);
        setHistoryKey(String(Date.now()));
      },
      (e) => {
        if (String((e as { code?: string }).code) === "active_trip_exists") resync();
      },
    );
  }

  async function cancel() {
    if (!trip) return;
    const id = trip.id;
    await act(async () => {
      follow(await api.post(`/trips/${id}/cancel`, "Trip", Trip, { reason: "Cancelled by the rider" }));
    });
  }

  function bookAnother() {
    setTrip(null);
    setCar(null);
    setPickupEta(null);
    setDropoff(null);
    setPicking("dropoff");
    setHistoryKey(String(Date.now()));
  }

  const onPick = (p: LatLng) => {
    if (tab !== "ride" || (trip && !view?.finished)) return;
    if (trip && view?.finished) bookAnother();
    if (picking === "pickup") {
      setPickup(p);
      setPicking("dropoff");
    } else {
      setDropoff(p);
    }
  };

  const markers: MapMarker[] = [];
  const showPickup = trip && !view?.finished ? trip.pickup : pickup;
  const showDropoff = trip && !view?.finished ? trip.dropoff : dropoff;
  if (showPickup) markers.push({ id: "pickup", at: showPickup, kind: "pickup", label: "Pickup" });
  if (showDropoff) markers.push({ id: "dropoff", at: showDropoff, kind: "dropoff", label: "Dropoff" });
  if (trip && isActive(trip) && car && trip.status !== "REQUESTED") markers.push({ id: "car", at: car, kind: "car", label: "Your driver" });
  if (searching) for (const d of nearby) markers.push({ id: d.driver_id, at: { lat: d.lat, lng: d.lng }, kind: "nearby", label: "Available driver" });
  const route =
    view?.route ??
    (trip?.status === "REQUESTED" ? { from: trip.pickup, to: trip.dropoff } : pickup && dropoff && (!trip || view?.finished) ? { from: pickup, to: dropoff } : null);
  const fitKey = `${trip?.id ?? "none"}:${trip?.status ?? ""}:${showPickup?.lat ?? ""}:${showDropoff?.lat ?? ""}:${car ? "car" : ""}`;

  return (
    <Shell
      appName=""
      userName={session.user.name}
      tabs={[
        { id: "ride", label: "Ride" },
        { id: "carpool", label: "Carpool" },
        { id: "history", label: "History" },
      ]}
      tab={tab}
      onTab={setTab}
      onLogout={onLogout}
      lost={sock.lost}
      map={<MapView center={CITY} markers={markers} route={route} onPick={onPick} fitKey={fitKey} />}
    >
      {error && (
        <Alert onClose={() => setError(null)}>
          {error}
        </Alert>
      )}
      {tab === "history" && (
        <div className="card">
          <h2>Your trips</h2>
          <TripHistory api={api} refreshKey={historyKey} />
        </div>
      )}
      {tab === "carpool" && <CarpoolTab api={api} socket={sock.socket} connected={sock.connected} me={session.user.id} role="rider" />}
      {tab === "ride" && trip && view && (
        <TripStatusCard api={api} trip={trip} view={view} notice={notice} etaSecs={etaSecs} busy={busy} onCancel={cancel} onBookAnother={bookAnother} onTrip={follow} />
      )}
      {tab === "ride" && !trip && (
        <BookingCard
          pickup={pickup}
          dropoff={dropoff}
          picking={picking}
          onPicking={setPicking}
          onPickup={(p) => (setPickup(p), setPicking("dropoff"))}
          onDropoff={setDropoff}
          tier={tier}
          onTier={setTier}
          nearby={nearby}
          nearbyError={nearbyError}
          estimate={estimate}
          busy={busy}
          onRequest={request}
        />
      )}
    </Shell>
  );
}
