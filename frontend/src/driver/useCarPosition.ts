// Where the driver's car is, and telling Hail: a simulated drive toward
// `target` (the pickup, then the dropoff) or the browser's GPS, and a ping
// while online, over the socket when it is up, else REST (driving.ts says
// how often).
import { useEffect, useRef, useState, type RefObject } from "react";
import type { Socket } from "socket.io-client";
import { Api, ApiError } from "../common/api";
import type { LatLng } from "../common/contracts";
import { stepToward } from "../common/geo";
import { emitAck } from "../common/useSocket";
import { nextPingDelayMs, SIM_SPEED_KMH, SIM_TICK_MS } from "./driving";

interface Options {
  api: Api;
  socketRef: RefObject<Socket | null>;
  simulate: boolean;
  /** Where the simulated car drives; null: it stays put. */
  target: LatLng | null;
  /** Ping Hail (the driver is online or on a trip). */
  sharing: boolean;
  /** Hail says the driver is offline. */
  onOffline: () => void;
  onError: (message: string) => void;
}

export function useCarPosition({ api, socketRef, simulate, target, sharing, onOffline, onError }: Options) {
  const [position, setPosition] = useState<LatLng | null>(null);
  const [heading, setHeading] = useState(0);
  const positionRef = useRef(position);
  positionRef.current = position;
  const headingRef = useRef(heading);
  headingRef.current = heading;
  const callbacks = useRef({ onOffline, onError });
  callbacks.current = { onOffline, onError };

  // Simulated driving: toward the pickup, then the dropoff.
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
      callbacks.current.onError("This browser cannot share a location. Switch on Simulate driving.");
      return;
    }
    const id = navigator.geolocation.watchPosition(
      (p) => {
        setPosition({ lat: p.coords.latitude, lng: p.coords.longitude });
        if (p.coords.heading != null && !Number.isNaN(p.coords.heading)) setHeading(p.coords.heading);
      },
      () => callbacks.current.onError("Location is blocked. Allow location for this site in the browser, or switch on Simulate driving."),
      { enableHighAccuracy: true, maximumAge: 2000 },
    );
    return () => navigator.geolocation.clearWatch(id);
  }, [simulate]);

  // Share the position while online: over the socket when it is up, else REST.
  const moving = !!target && simulate;
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
          if (e instanceof ApiError && e.code === "driver_offline") callbacks.current.onOffline();
        }
      }
      if (!stop) timer = setTimeout(send, nextPingDelayMs(moving));
    };
    void send();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [sharing, moving, api, socketRef]);

  return { position, setPosition };
}
