// The driver app: go online, share a position (GPS or simulated driving),
// answer offers before they expire, drive the trip, see past trips, and the
// Carpool tab.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, ApiError, errorText } from "../common/api";
import { CarpoolTab } from "../common/CarpoolTab";
import { check, DeclineResponse, DriverProfile, Offer, OfferRevoked, StatusResponse, Trip, type DriverStatus, type LatLng } from "../common/contracts";
import { CITY, distanceKm, formatDistance, secondsLeft, stepToward } from "../common/geo";
import { MapView, type MapMarker } from "../common/MapView";
import { SessionGate, type HomeProps } from "../common/SessionGate";
import { Alert, Shell } from "../common/Shell";
import { TripHistory } from "../common/TripHistory";
import { driverTripView, isActive, newerTrip } from "../common/tripView";
import { useAction } from "../common/useAction";
import { emitAck, useSocket } from "../common/useSocket";
import { nextPingDelayMs, SIM_SPEED_KMH, SIM_TICK_MS } from "./driving";
import { receiveOffer } from "./offerDelivery";

type Tab = "drive" | "carpool" | "history";

export function DriverApp() {
  return <SessionGate role="driver" home={(props) => <DriverHome {...props} />} />;
}

function DriverHome({ session, onExpired, onLogout }: HomeProps) {
  const api = useMemo(() => new Api(session.token, onExpired), [session.token, onExpired]);
  const [tab, setTab] = useState<Tab>("drive");
  const [status, setStatus] = useState<DriverStatus | null>(null);
  const [offer, setOffer] = useState<Offer | null>(null);
  const [trip, setTrip] = useState<Trip | null>(null);
  const [position, setPosition] = useState<LatLng | null>(null);
  const [heading, setHeading] = useState(0);
  const [simulate, setSimulate] = useState(true);
  const [info, setInfo] = useState<string | null>(null);
  const { busy, error, setError, act } = useAction(() => setInfo(null));
  const [now, setNow] = useState(Date.now());
  const [historyKey, setHistoryKey] = useState("0");
  const socketRef = useRef<ReturnType<typeof useSocket>["socket"]>(null);
  const subscribed = useRef<string | null>(null);
  const tripRef = useRef<Trip | null>(null);
  tripRef.current = trip;

  const followTrip = useCallback((t: Trip) => {
    setTrip((cur) => newerTrip(cur, t));
    if (isActive(t) && subscribed.current !== t.id && socketRef.current?.connected) {
      subscribed.current = t.id;
      emitAck(socketRef.current, "trip:subscribe", { trip_id: t.id }).catch(() => {
        subscribed.current = null;
      });
    }
    if (!isActive(t)) setHistoryKey(String(Date.now()));
  }, []);

  const refresh = useCallback(async () => {
    try {
      const me = await api.get("/drivers/me", "DriverProfile", DriverProfile);
      setStatus(me.status);
      setOffer(me.current_offer && secondsLeft(me.current_offer.expires_at) > 0 ? me.current_offer : null);
      setPosition((p) => p ?? (me.location ? { lat: me.location.lat, lng: me.location.lng } : CITY));
      if (me.current_trip_id) followTrip(await api.get(`/trips/${me.current_trip_id}`, "Trip", Trip));
      // The trip we were showing ended while we were away: show how it ended.
      else if (tripRef.current && isActive(tripRef.current)) followTrip(await api.get(`/trips/${tripRef.current.id}`, "Trip", Trip));
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, [api, followTrip]);

  const sock = useSocket(
    session.token,
    {
      offer: (p, ack) => {
        setOffer(receiveOffer(p, ack));
        setInfo(null);
      },
      "offer:revoked": (p) => {
        const r = check("offer:revoked", OfferRevoked, p);
        setOffer((cur) => {
          if (cur && cur.trip_id !== r.trip_id) return cur;
          setInfo(r.reason === "cancelled" ? "The rider cancelled that request." : r.reason === "unreachable" ? "Your phone did not confirm the offer in time, so it went to another driver." : "That offer expired before you answered.");
          return null;
        });
      },
      "trip:update": (p) => {
        const t = check("trip:update", Trip, p);
        setTrip((cur) => (cur && cur.id === t.id ? newerTrip(cur, t) : isActive(t) && t.status !== "REQUESTED" ? t : cur));
        if (!isActive(t)) setHistoryKey(String(Date.now()));
      },
    },
    () => {
      subscribed.current = null;
      void refresh();
    },
    onExpired,
  );
  socketRef.current = sock.socket;

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // The offer countdown.
  useEffect(() => {
    if (!offer) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [offer]);
  // Never count from a clock older than this render (the tick may not have run yet).
  const offerSeconds = offer ? secondsLeft(offer.expires_at, Math.max(now, Date.now())) : 0;
  useEffect(() => {
    if (offer && offerSeconds === 0) {
      setOffer(null);
      setInfo("That offer expired before you answered.");
    }
  }, [offer, offerSeconds]);

  const view = trip ? driverTripView(trip, position) : null;
  const target = view && !view.finished ? view.target : null;

  // Simulated driving: toward the pickup, then the dropoff.
  const positionRef = useRef(position);
  positionRef.current = position;
  useEffect(() => {
    if (!simulate || !target) return;
    const timer = setInterval(() => {
      const from = positionRef.current;
      if (!from) return;
      const step = stepToward(from, target, SIM_SPEED_KMH, SIM_TICK_MS / 1000);
      setPosition(step.position);
      setHeading(step.heading);
    }, SIM_TICK_MS);
    return () => clearInterval(timer);
  }, [simulate, target?.lat, target?.lng]); // eslint-disable-line react-hooks/exhaustive-deps

  // Browser geolocation.
  useEffect(() => {
    if (simulate) return;
    if (!("geolocation" in navigator)) {
      setError("This browser cannot share a location. Switch on Simulate driving.");
      return;
    }
    const id = navigator.geolocation.watchPosition(
      (p) => {
        setPosition({ lat: p.coords.latitude, lng: p.coords.longitude });
        if (p.coords.heading != null && !Number.isNaN(p.coords.heading)) setHeading(p.coords.heading);
      },
      () => setError("Location is blocked. Allow location for this site in the browser, or switch on Simulate driving."),
      { enableHighAccuracy: true, maximumAge: 2000 },
    );
    return () => navigator.geolocation.clearWatch(id);
  }, [simulate]);

  // Share the position while online: over the socket when it is up, else REST.
  const sharing = status === "ONLINE" || status === "BUSY";
  const moving = !!target && simulate;
  const headingRef = useRef(heading);
  headingRef.current = heading;
  useEffect(() => {
    if (!sharing) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const send = async () => {
      const p = positionRef.current;
      if (p) {
        const body = { lat: p.lat, lng: p.lng, heading: Math.round(headingRef.current) % 360, speed_kmh: moving ? SIM_SPEED_KMH : 0 };
        try {
          if (socketRef.current?.connected) await emitAck(socketRef.current, "driver:location", body);
          else await api.post("/drivers/me/location", "", null, body);
        } catch (e) {
          if (e instanceof ApiError && e.code === "driver_offline") setStatus("OFFLINE");
        }
      }
      if (!stop) timer = setTimeout(send, nextPingDelayMs(moving));
    };
    void send();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [sharing, moving, api]);

  const toggleOnline = () =>
    act(async () => {
      const next = status === "ONLINE" ? "offline" : "online";
      const r = await api.post(`/drivers/me/${next}`, "StatusResponse", StatusResponse);
      setStatus(r.status);
    });

  const accept = () =>
    act(async () => {
      if (!offer) return;
      try {
        const t = await api.post(`/trips/${offer.trip_id}/accept`, "Trip", Trip);
        setOffer(null);
        setStatus("BUSY");
        followTrip(t);
      } catch (e) {
        if (e instanceof ApiError && e.code === "offer_expired") {
          setOffer(null);
          throw new Error("That offer is gone: it expired or the rider cancelled. Stay online for the next one.");
        }
        throw e;
      }
    });

  const decline = () =>
    act(async () => {
      if (!offer) return;
      await api.post(`/trips/${offer.trip_id}/decline`, "DeclineResponse", DeclineResponse);
      setOffer(null);
      setInfo("Offer declined. You stay online for the next one.");
    });

  const move = (step: "start" | "complete" | "cancel") =>
    act(async () => {
      if (!trip) return;
      const t = await api.post(`/trips/${trip.id}/${step}`, "Trip", Trip, step === "cancel" ? { reason: "Cancelled by the driver" } : undefined);
      followTrip(t);
      if (step === "complete") setStatus("ONLINE");
      if (step === "cancel") {
        setTrip(null);
        setInfo(t.status === "REQUESTED" ? "You handed the trip back; another driver will get it." : "Trip cancelled.");
        void refresh();
      }
    });

  const markers: MapMarker[] = [];
  if (position) markers.push({ id: "me", at: position, kind: "me", label: "You" });
  const shownTrip = trip && !view?.finished ? trip : null;
  const shownPoints = shownTrip ?? offer;
  if (shownPoints) {
    markers.push({ id: "pickup", at: shownPoints.pickup, kind: "pickup", label: "Pickup" });
    markers.push({ id: "dropoff", at: shownPoints.dropoff, kind: "dropoff", label: "Dropoff" });
  }
  const route = position && target ? { from: position, to: target } : null;
  const fitKey = `${trip?.id ?? ""}:${trip?.status ?? ""}:${offer?.trip_id ?? ""}:${position ? "p" : ""}`;

  const onPick = (p: LatLng) => {
    if (tab === "drive" && simulate && !target) {
      setPosition(p);
      setInfo("Car placed. Online drivers near a rider get their requests.");
    }
  };

  const statusChip = status ?? "…";
  return (
    <Shell
      appName="Driver"
      userName={session.user.name}
      tabs={[
        { id: "drive", label: "Drive" },
        { id: "carpool", label: "Carpool" },
        { id: "history", label: "History" },
      ]}
      tab={tab}
      onTab={setTab}
      onLogout={onLogout}
      lost={sock.lost}
      headerExtra={<span className={`chip chip-driver-${String(statusChip).toLowerCase()}`} data-testid="driver-status">{status === "BUSY" ? "On a trip" : status === "ONLINE" ? "Online" : status === "OFFLINE" ? "Offline" : "…"}</span>}
      map={<MapView center={position ?? CITY} markers={markers} route={route} onPick={onPick} fitKey={fitKey} />}
    >
      {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
      {info && (
        <Alert tone="info" onClose={() => setInfo(null)}>
          {info}
        </Alert>
      )}
      {tab === "history" && (
        <div className="card">
          <h2>Your trips</h2>
          <TripHistory api={api} refreshKey={historyKey} />
        </div>
      )}
      {tab === "carpool" && <CarpoolTab api={api} socket={sock.socket} connected={sock.connected} me={session.user.id} role="driver" />}
      {tab === "drive" && (
        <>
          {offer && (
            <div className="card offer" data-testid="offer-card">
              <div className="offer-head">
                <h2>New trip request</h2>
                <span className="countdown" data-testid="offer-countdown">{offerSeconds}s</span>
              </div>
              <div className="offer-bar">
                <span style={{ width: `${Math.min(100, (offerSeconds / 15) * 100)}%` }} />
              </div>
              <p className="offer-meta">
                {offer.tier === "premium" ? "Premium" : "Standard"} · pickup {formatDistance(offer.distance_km)} away · trip {formatDistance(distanceKm(offer.pickup, offer.dropoff))}
              </p>
              <div className="trip-points">
                <div>
                  <span className="dot dot-a">A</span> {offer.pickup.lat.toFixed(5)}, {offer.pickup.lng.toFixed(5)}
                </div>
                <div>
                  <span className="dot dot-b">B</span> {offer.dropoff.lat.toFixed(5)}, {offer.dropoff.lng.toFixed(5)}
                </div>
              </div>
              <div className="row">
                <button className="btn btn-ghost" onClick={decline} disabled={busy}>
                  Decline
                </button>
                <button className="btn btn-primary grow" onClick={accept} disabled={busy}>
                  Accept
                </button>
              </div>
            </div>
          )}
          {trip && view && (
            <div className="card status" data-testid="driver-trip" data-status={trip.status}>
              <h2 data-testid="driver-trip-title">{view.title}</h2>
              <p className="status-detail">{view.detail}</p>
              {view.action === "start" && (
                <button className="btn btn-primary btn-block" onClick={() => move("start")} disabled={busy}>
                  Start trip
                </button>
              )}
              {view.action === "complete" && (
                <button className="btn btn-success btn-block" onClick={() => move("complete")} disabled={busy}>
                  Complete trip
                </button>
              )}
              {view.canCancel && (
                <button className="btn btn-ghost btn-block" onClick={() => move("cancel")} disabled={busy}>
                  {trip.status === "ASSIGNED" ? "Hand the trip back" : "Cancel trip"}
                </button>
              )}
              {view.finished && (
                <button className="btn btn-primary btn-block" onClick={() => setTrip(null)}>
                  Done
                </button>
              )}
            </div>
          )}
          {!offer && (!trip || view?.finished) && (
            <div className="card">
              <h2>{status === "ONLINE" ? "You are online" : "You are offline"}</h2>
              <p className="muted">{status === "ONLINE" ? "Waiting for trip requests near you." : "Go online to receive trip requests."}</p>
              <button className={`btn btn-block ${status === "ONLINE" ? "btn-ghost" : "btn-primary"}`} onClick={toggleOnline} disabled={busy || status === null || status === "BUSY"}>
                {status === "ONLINE" ? "Go offline" : "Go online"}
              </button>
            </div>
          )}
          <div className="card">
            <label className="switch">
              <input type="checkbox" name="simulate" checked={simulate} onChange={(e) => setSimulate(e.target.checked)} />
              <span className="switch-track" aria-hidden />
              <span>
                <strong>Simulate driving</strong>
                <span className="muted block">{simulate ? "The car drives itself to the pickup, then the dropoff. Tap the map to place it." : "Using this device's location."}</span>
              </span>
            </label>
            {position && <p className="muted small">Position {position.lat.toFixed(5)}, {position.lng.toFixed(5)}{sharing ? " · shared" : ""}</p>}
          </div>
        </>
      )}
    </Shell>
  );
}
