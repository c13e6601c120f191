// The driver app: add the car, go online, share a position (GPS or simulated
// driving), answer offers before they expire, drive the trip (arrive, start
// with the rider's PIN, complete), see past trips, and the Carpool tab.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Api, ApiError, errorText } from "../common/api";
import { CarpoolTab } from "../common/CarpoolTab";
import { check, DeclineResponse, DriverLocationEvent, DriverProfile, Offer, OfferRevoked, StatusResponse, Trip, type DriverStatus, type LatLng, type Vehicle } from "../common/contracts";
import { etaFor, type PickupEta } from "../common/eta";
import { CITY, secondsLeft } from "../common/geo";
import { MapView, type MapMarker } from "../common/MapView";
import { SessionGate, type HomeProps } from "../common/SessionGate";
import { Alert, Shell } from "../common/Shell";
import { TripHistory } from "../common/TripHistory";
import { driverTripView, isActive, newerTrip } from "../common/tripView";
import { useAction } from "../common/useAction";
import { emitAck, useSocket } from "../common/useSocket";
import { DriverTripCard } from "./DriverTripCard";
import { OfferCard } from "./OfferCard";
import { receiveOffer } from "./offerDelivery";
import { NO_PIN_YET, pinRefused, startBody, type PinStep } from "./pinStep";
import { VehicleCard } from "./VehicleCard";
import { useCarPosition } from "./useCarPosition";
import { VehicleForm } from "./VehicleForm";
import { rememberVehicleSkipped, shouldAskForVehicle, vehicleSkipped } from "./vehicleForm";

/** What "I've arrived" says when the backend does not see the car at the pickup. */
export const NOT_AT_PICKUP = "You are not at the pickup yet: Hail sees your car more than 200 m from it. Drive to the pickup point, then tap “I've arrived” again.";

type Tab = "drive" | "carpool" | "history";

// Looks again at a driver still BUSY after its trip ended, 500 ms apart.
const MAX_RELEASE_CHECKS = 10;

export function DriverApp() {
  return <SessionGate role="driver" home={(props) => <DriverHome {...props} />} />;
}

function DriverHome({ session, onExpired, onLogout }: HomeProps) {
  const api = useMemo(() => new Api(session.token, onExpired), [session.token, onExpired]);
  const [tab, setTab] = useState<Tab>("drive");
  const [status, setStatus] = useState<DriverStatus | null>(null);
  const [profile, setProfile] = useState<DriverProfile | null>(null);
  const [editingVehicle, setEditingVehicle] = useState(false);
  const [skippedVehicle, setSkippedVehicle] = useState(() => vehicleSkipped(session.user.id));
  const [pickupEta, setPickupEta] = useState<PickupEta | null>(null);
  const [pinStep, setPinStep] = useState<PinStep>(NO_PIN_YET);
  const [pin, setPin] = useState("");
  const [arriveProblem, setArriveProblem] = useState<string | null>(null);
  const [offer, setOffer] = useState<Offer | null>(null);
  const [trip, setTrip] = useState<Trip | null>(null);
  const [simulate, setSimulate] = useState(true);
  const [info, setInfo] = useState<string | null>(null);
  const { busy, error, setError, act } = useAction(() => setInfo(null));
  const [now, setNow] = useState(Date.now());
  const [historyKey, setHistoryKey] = useState("0");
  const socketRef = useRef<ReturnType<typeof useSocket>["socket"]>(null);
  const subscribed = useRef<string | null>(null);
  const tripRef = useRef<Trip | null>(null);
  tripRef.current = trip;
  const releaseChecks = useRef(0);

  // Where the car heads (the pickup, then the dropoff; nowhere once the trip
  // is over), where it is (simulated or GPS), and sharing it while online.
  const target = trip ? driverTripView(trip, null).target : null;
  const sharing = status === "ONLINE" || status === "BUSY";
  const { position, setPosition } = useCarPosition({ api, socketRef, simulate, target, sharing, onOffline: () => setStatus("OFFLINE"), onError: setError });

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
      setProfile(me);
      setStatus(me.status);
      setOffer(me.current_offer && secondsLeft(me.current_offer.expires_at) > 0 ? me.current_offer : null);
      setPosition((p) => p ?? (me.location ? { lat: me.location.lat, lng: me.location.lng } : CITY));
      if (me.current_trip_id) {
        const t = await api.get(`/trips/${me.current_trip_id}`, "Trip", Trip);
        followTrip(t);
        // The trip has ended and the driver's release is still on its way
        // (it follows the trip's own change): look again shortly, a few
        // times at most, so the chip does not stay at "On a trip".
        const releasing = !isActive(t) && me.status === "BUSY";
        releaseChecks.current = releasing ? releaseChecks.current + 1 : 0;
        if (releasing && releaseChecks.current <= MAX_RELEASE_CHECKS) window.setTimeout(() => void refreshRef.current?.(), 500);
      }
      // The trip we were showing ended while we were away: show how it ended.
      else if (tripRef.current && isActive(tripRef.current)) followTrip(await api.get(`/trips/${tripRef.current.id}`, "Trip", Trip));
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, [api, followTrip]);

  const refreshRef = useRef<(() => Promise<void>) | null>(null);
  refreshRef.current = refresh;

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
        if (!isActive(t)) {
          setHistoryKey(String(Date.now()));
          // Ended without this app's doing (the rider cancelled, five wrong
          // PINs): read the driver's status again.
          if (tripRef.current?.id === t.id) void refresh();
        }
      },
      "driver:location": (p) => {
        const ev = check("driver:location", DriverLocationEvent, p);
        if (tripRef.current?.id === ev.trip_id) setPickupEta({ tripId: ev.trip_id, secs: ev.pickup_eta_secs });
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

  // A new trip starts with no PIN asked and no ETA yet.
  const tripId = trip?.id;
  useEffect(() => {
    setPinStep(NO_PIN_YET);
    setPin("");
    setArriveProblem(null);
  }, [tripId]);

  const view = trip ? driverTripView(trip, position, etaFor(pickupEta, tripId)) : null;


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

  const arrive = () =>
    act(async () => {
      if (!trip) return;
      setArriveProblem(null);
      try {
        followTrip(await api.post(`/trips/${trip.id}/arrive`, "Trip", Trip));
      } catch (e) {
        if (e instanceof ApiError && e.code === "not_at_pickup") return setArriveProblem(NOT_AT_PICKUP);
        throw e;
      }
    });

  // Without a PIN first: only a 422 wrong_pin says this city wants one.
  const start = () =>
    act(async () => {
      if (!trip) return;
      const body = startBody(pinStep, pin);
      try {
        followTrip(await api.post(`/trips/${trip.id}/start`, "Trip", Trip, body));
        setPinStep(NO_PIN_YET);
        setPin("");
      } catch (e) {
        if (!(e instanceof ApiError && e.code === "wrong_pin")) throw e;
        const next = pinRefused(body, e.details);
        setPinStep(next);
        setPin("");
        // The last wrong PIN cancelled the trip: show how it ended.
        if (next.attemptsLeft === 0) await refresh();
      }
    });

  const move = (step: "complete" | "cancel") =>
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

  // Between trips: the online switch, and the car (asked for once, before
  // the first time online, when the profile has none).
  const idle = !offer && (!trip || !!view?.finished);
  const askVehicle = shouldAskForVehicle(profile && status ? { status, vehicle: profile.vehicle } : null, skippedVehicle);
  const vehicleFormShown = askVehicle || editingVehicle;
  const saveVehicle = (v: Vehicle) => {
    setProfile((p) => (p ? { ...p, vehicle: v } : p));
    setEditingVehicle(false);
    setInfo(`Car saved. Riders will look for ${v.plate}.`);
  };
  const skipVehicle = () => {
    rememberVehicleSkipped(session.user.id);
    setSkippedVehicle(true);
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
          {offer && <OfferCard offer={offer} secondsLeft={offerSeconds} busy={busy} onAccept={accept} onDecline={decline} />}
          {trip && view && (
            <DriverTripCard
              trip={trip}
              view={view}
              busy={busy}
              pinStep={pinStep}
              pin={pin}
              arriveProblem={arriveProblem}
              onPin={setPin}
              onArrive={arrive}
              onStart={start}
              onComplete={() => move("complete")}
              onCancel={() => move("cancel")}
              onDone={() => setTrip(null)}
            />
          )}
          {idle && vehicleFormShown && (
            <VehicleForm
              api={api}
              current={profile?.vehicle ?? null}
              firstTime={askVehicle}
              onSaved={saveVehicle}
              onSkip={askVehicle ? skipVehicle : undefined}
              onCancel={askVehicle ? undefined : () => setEditingVehicle(false)}
            />
          )}
          {idle && !vehicleFormShown && (
            <div className="card">
              <h2>{status === "ONLINE" ? "You are online" : "You are offline"}</h2>
              <p className="muted">{status === "ONLINE" ? "Waiting for trip requests near you." : "Go online to receive trip requests."}</p>
              <button className={`btn btn-block ${status === "ONLINE" ? "btn-ghost" : "btn-primary"}`} onClick={toggleOnline} disabled={busy || status === null || status === "BUSY"}>
                {status === "ONLINE" ? "Go offline" : "Go online"}
              </button>
            </div>
          )}
          {idle && !vehicleFormShown && profile && <VehicleCard vehicle={profile.vehicle} rating={profile.rating} onEdit={() => setEditingVehicle(true)} />}
          <div className="card">
            <label className="switch">
              <input type="checkbox" name="simulate" checked={simulate} onChange={(e) => setSimulate(e.target.checked)} />
              <span className="switch-track" aria-hidden />
              <span>
                <strong>Simulate driving</strong>
                <span className="muted block">{simulate ? "The car drives itself to the pickup, then the dropoff. Tap the map to place it." : "Using this device's location."}</span>
              </span>
            </label>
            {position && <p className="muted small" data-testid="driver-position">Position {position.lat.toFixed(5)}, {position.lng.toFixed(5)}{sharing ? " · shared" : ""}</p>}
          </div>
        </>
      )}
    </Shell>
  );
}
