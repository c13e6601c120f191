// The Carpool tab (API.md "Carpool rooms"): pick an origin, day and time, join
// that departure's room as a driver with seats or as a rider, and watch it
// live (room:join + room:state). Drivers select waiting riders; riders answer
// the match request before it expires; either side can cancel a ride.
import { useCallback, useEffect, useRef, useState } from "react";
import type { Socket } from "socket.io-client";
import { Api, ApiError, errorText } from "./api";
import { DAYS, personLabel, roomKey, roomView, today } from "./carpool";
import { check, MatchRequest, RoomJoinAck, RoomState, type Role } from "./contracts";
import { secondsLeft } from "./geo";
import { Alert } from "./Shell";
import { useAction } from "./useAction";
import { emitAck } from "./useSocket";

interface Props {
  api: Api;
  socket: Socket | null;
  connected: boolean;
  me: string;
  role: Role;
}

const remembered = (role: Role) => `hail.room.${role}`;

export function CarpoolTab({ api, socket, connected, me, role }: Props) {
  const [origin, setOrigin] = useState("Westie");
  const [day, setDay] = useState<string>(today());
  const [time, setTime] = useState("08:00");
  const [seats, setSeats] = useState(3);
  const [key, setKey] = useState<string | null>(() => localStorage.getItem(remembered(role)));
  const [state, setState] = useState<RoomState | null>(null);
  const [requested, setRequested] = useState<string | null>(null);
  const { busy, error, setError, act } = useAction();
  const [now, setNow] = useState(Date.now());
  const keyRef = useRef(key);
  keyRef.current = key;

  const path = (k: string) => `/rooms/${encodeURIComponent(k)}`;

  // Live updates for the joined room.
  useEffect(() => {
    if (!socket) return;
    const onState = (p: unknown) => {
      const s = check("room:state", RoomState, p);
      if (s.key === keyRef.current) setState(s);
    };
    // The room:state that follows a select already shows the pending match;
    // a request for a room this screen is not showing yet is fetched.
    const onRequest = (p: unknown) => {
      const r = check("room:match_request", MatchRequest, p);
      if (r.key === keyRef.current) setRequested(r.key);
    };
    socket.on("room:state", onState);
    socket.on("room:match_request", onRequest);
    return () => {
      socket.off("room:state", onState);
      socket.off("room:match_request", onRequest);
    };
  }, [socket]);

  // (Re)join the room's channel whenever the socket (re)connects, and refetch.
  const joinChannel = useCallback(
    async (k: string) => {
      try {
        setState(await api.get(path(k), "RoomState", RoomState));
        if (socket?.connected) {
          const ack = check("ack:room:join", RoomJoinAck, await emitAck(socket, "room:join", { key: k }));
          if (keyRef.current === k) setState(ack.state);
        }
      } catch (e) {
        setError(errorText(e));
      }
    },
    [api, socket],
  );
  useEffect(() => {
    if (key && connected) void joinChannel(key);
  }, [key, connected, joinChannel]);

  useEffect(() => {
    if (!requested) return;
    setRequested(null);
    if (!state?.pending.some((p) => p.rider_id === me)) {
      api.get(path(requested), "RoomState", RoomState).then(setState, (e) => setError(errorText(e)));
    }
  }, [requested, state, me, api]);

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);

  const join = () =>
    act(async () => {
      const k = roomKey(origin, day, time);
      if (!k.ok) throw new Error(k.error);
      const s =
        role === "driver"
          ? await api.post(`${path(k.key)}/drivers`, "RoomState", RoomState, { seats })
          : await api.post(`${path(k.key)}/riders`, "RoomState", RoomState);
      localStorage.setItem(remembered(role), k.key);
      setKey(k.key);
      setState(s);
    });

  const rejoin = () =>
    act(async () => {
      if (!key) return;
      setState(
        role === "driver"
          ? await api.post(`${path(key)}/drivers`, "RoomState", RoomState, { seats })
          : await api.post(`${path(key)}/riders`, "RoomState", RoomState),
      );
    });

  const leave = () =>
    act(async () => {
      if (!key) return;
      const forget = () => {
        if (socket?.connected) void emitAck(socket, "room:leave", { key }).catch(() => undefined);
        localStorage.removeItem(remembered(role));
        setKey(null);
        setState(null);
      };
      try {
        await api.delete(role === "driver" ? `${path(key)}/drivers/me` : `${path(key)}/riders/me`, "RoomState", RoomState);
        forget();
      } catch (e) {
        // A room that is gone (cleaned up after its departure) has nothing to leave.
        if (e instanceof ApiError && e.status === 404) forget();
        else throw e;
      }
    });

  const select = (riderId: string) =>
    act(async () => {
      if (!key) return;
      try {
        setState(await api.post(`${path(key)}/select`, "RoomState", RoomState, { rider_id: riderId }));
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) throw new Error("That rider is no longer waiting: another driver picked them first, or they left.");
        throw e;
      }
    });

  const respond = (accept: boolean) =>
    act(async () => {
      if (!key) return;
      setState(await api.post(`${path(key)}/respond`, "RoomState", RoomState, { accept }));
    });

  const cancelRide = (rideId: string) =>
    act(async () => {
      if (!key) return;
      setState(await api.post(`${path(key)}/rides/${rideId}/cancel`, "RoomState", RoomState));
    });

  if (!key) {
    return (
      <div className="card" data-testid="carpool-form">
        <h2>Carpool</h2>
        <p className="muted">Share a scheduled ride with people leaving from the same place at the same time.</p>
        <label>
          Leaving from
          <input name="origin" value={origin} onChange={(e) => setOrigin(e.target.value)} placeholder="Westie" maxLength={32} />
        </label>
        <div className="row">
          <label className="grow">
            Day
            <select name="day" value={day} onChange={(e) => setDay(e.target.value)}>
              {DAYS.map((d) => (
                <option key={d} value={d}>
                  {d[0].toUpperCase() + d.slice(1)}
                </option>
              ))}
            </select>
          </label>
          <label className="grow">
            Time
            <input name="time" type="time" value={time} onChange={(e) => setTime(e.target.value)} />
          </label>
          {role === "driver" && (
            <label className="grow">
              Seats
              <select name="seats" value={seats} onChange={(e) => setSeats(Number(e.target.value))}>
                {[1, 2, 3, 4, 5, 6, 7, 8].map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
        {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
        <button className="btn btn-primary btn-block" onClick={join} disabled={busy}>
          {role === "driver" ? "Offer seats in this room" : "Join the queue"}
        </button>
      </div>
    );
  }

  const v = state ? roomView(state, me) : null;
  const pendingMine = role === "rider" ? (v?.myPending.find((p) => p.rider_id === me) ?? null) : null;
  const [o, d, ...hm] = key.split(":");

  return (
    <div className="card room" data-testid="room" data-key={key}>
      <div className="room-head">
        <div>
          <h2>
            {o} · {d[0].toUpperCase() + d.slice(1)} {hm.join(":")}
          </h2>
          {state?.departs_at && (
            <p className="small" data-testid="room-departs">
              Departs {new Date(state.departs_at).toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" })}
            </p>
          )}
          <p className="muted small" data-testid="room-summary">{v ? v.summary : "Loading the room…"}</p>
        </div>
        <button className="btn btn-ghost btn-small" onClick={leave} disabled={busy}>
          Leave
        </button>
      </div>
      {error && <Alert onClose={() => setError(null)}>{error}</Alert>}
      {pendingMine && (
        <div className="match" data-testid="match-request">
          <strong>{personLabel(pendingMine.driver_id, me, "Driver")} has a seat for you</strong>
          <span className="countdown">{secondsLeft(pendingMine.expires_at, Math.max(now, Date.now()))}s</span>
          <div className="row">
            <button className="btn btn-ghost" onClick={() => respond(false)} disabled={busy}>
              Decline
            </button>
            <button className="btn btn-primary grow" onClick={() => respond(true)} disabled={busy}>
              Accept seat
            </button>
          </div>
        </div>
      )}
      {v && role === "rider" && v.myQueuePosition && <p className="room-note">You are number {v.myQueuePosition} in the queue.</p>}
      {v && !v.inRoom && (
        <div className="room-rejoin">
          <p className="room-note">You are not in this room's queue right now.</p>
          <button className="btn btn-primary btn-block" onClick={rejoin} disabled={busy}>
            {role === "driver" ? `Offer ${seats} seat${seats === 1 ? "" : "s"} again` : "Join the queue again"}
          </button>
        </div>
      )}
      {v && role === "driver" && v.mySeatsLeft !== null && (
        <p className="room-note">
          {v.mySeatsLeft} seat{v.mySeatsLeft === 1 ? "" : "s"} left in your car.
        </p>
      )}
      {v && v.myRides.length > 0 && (
        <section>
          <h3>Your rides</h3>
          <ul className="people" data-testid="my-rides">
            {v.myRides.map((r) => (
              <li key={r.id}>
                <span>
                  {role === "driver" ? personLabel(r.rider_id, me, "Rider") : personLabel(r.driver_id, me, "Driver")} · <span className="chip chip-completed">Confirmed</span>
                </span>
                <button className="btn btn-ghost btn-small" onClick={() => cancelRide(r.id)} disabled={busy}>
                  Cancel ride
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      {state && (
        <>
          <section>
            <h3>Waiting riders</h3>
            {state.riders_waiting.length === 0 ? (
              <p className="muted small">No one waiting.</p>
            ) : (
              <ol className="people" data-testid="waiting">
                {state.riders_waiting.map((r) => (
                  <li key={r}>
                    <span>{personLabel(r, me, "Rider")}</span>
                    {v?.selectable.includes(r) && (
                      <button className="btn btn-primary btn-small" onClick={() => select(r)} disabled={busy}>
                        Select
                      </button>
                    )}
                  </li>
                ))}
              </ol>
            )}
          </section>
          {state.pending.length > 0 && (
            <section>
              <h3>Waiting for an answer</h3>
              <ul className="people" data-testid="pending">
                {state.pending.map((p) => (
                  <li key={p.rider_id}>
                    <span>
                      {personLabel(p.rider_id, me, "Rider")} ← {personLabel(p.driver_id, me, "Driver")}
                    </span>
                    <span className="countdown small">{secondsLeft(p.expires_at, Math.max(now, Date.now()))}s</span>
                  </li>
                ))}
              </ul>
            </section>
          )}
          <section>
            <h3>Drivers</h3>
            {state.drivers.length === 0 ? (
              <p className="muted small">No drivers yet.</p>
            ) : (
              <ul className="people" data-testid="drivers">
                {state.drivers.map((dr) => (
                  <li key={dr.driver_id}>
                    <span>{personLabel(dr.driver_id, me, "Driver")}</span>
                    <span className="muted small">
                      {dr.seats_left} seat{dr.seats_left === 1 ? "" : "s"} left
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </div>
  );
}
