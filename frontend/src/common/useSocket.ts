// One Socket.IO connection per signed-in person. Tracks whether it is up (for
// the "connection lost" banner), calls `onConnect` on every (re)connect so the
// screen refetches, and turns an "unauthorized" refusal, or the gateway's
// `error` {code: "token_expired"} before it closes the socket, into a logout.
// A server event sent with an acknowledgement hands its handler the reply
// callback (the `offer` event: the driver app confirms it reached the phone).
import { useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { Ack, check } from "./contracts";

/** The answer to a server event that asked for an acknowledgement. */
export type AckReply = (answer: Ack) => void;
/** Handles one server event; `ack` is null unless the server asked for one. */
export type Handler = (payload: unknown, ack: AckReply | null) => void;
export type Handlers = Record<string, Handler>;

/** Hands an event to its handler: its payload, and the acknowledgement the
 * server asked for (Socket.IO passes it as the last argument, a function).
 * A handler that throws is logged, never left to break the socket. */
export function deliverEvent(handlers: Handlers, event: string, args: unknown[]): void {
  const h = handlers[event];
  if (!h) return;
  const last = args[args.length - 1];
  const ack = typeof last === "function" ? (last as AckReply) : null;
  try {
    h(ack && args.length === 1 ? undefined : args[0], ack);
  } catch (e) {
    console.error(`while handling ${event}`, e);
  }
}

/** The gateway's last word to a socket whose token ran out; it closes the
 * socket next and there is no refresh, so this ends the session. */
export function isTokenExpired(event: string, payload: unknown): boolean {
  return event === "error" && typeof payload === "object" && payload !== null && (payload as { code?: unknown }).code === "token_expired";
}

export interface SocketState {
  socket: Socket | null;
  connected: boolean;
  /** The connection was up once and is now down. */
  lost: boolean;
}

export function useSocket(token: string | null, handlers: Handlers, onConnect: () => void, onUnauthorized: () => void): SocketState {
  const [state, setState] = useState<SocketState>({ socket: null, connected: false, lost: false });
  const latest = useRef({ handlers, onConnect, onUnauthorized });
  latest.current = { handlers, onConnect, onUnauthorized };

  useEffect(() => {
    if (!token) return;
    const socket = io({ path: "/socket.io/", auth: { token }, transports: ["websocket"], reconnectionDelayMax: 3000 });
    let wasUp = false;
    socket.on("connect", () => {
      wasUp = true;
      setState({ socket, connected: true, lost: false });
      latest.current.onConnect();
    });
    socket.on("disconnect", () => setState({ socket, connected: false, lost: wasUp }));
    socket.on("connect_error", (err: Error) => {
      if (err.message === "unauthorized") latest.current.onUnauthorized();
      setState({ socket, connected: false, lost: wasUp });
    });
    socket.onAny((event: string, ...args: unknown[]) => {
      if (isTokenExpired(event, args[0])) return latest.current.onUnauthorized();
      deliverEvent(latest.current.handlers, event, args);
    });
    setState({ socket, connected: false, lost: false });
    return () => {
      socket.removeAllListeners();
      socket.disconnect();
    };
  }, [token]);

  return state;
}

/** Emits with an ack and resolves to the ack's body, or rejects with its
 * error message; gives up after `ms`. */
export function emitAck(socket: Socket | null, event: string, payload: unknown, ms = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (!socket?.connected) return reject(new Error("Not connected to Hail right now; retrying when the connection is back."));
    socket.timeout(ms).emit(event, payload, (err: Error | null, answer: unknown) => {
      if (err) return reject(new Error("Hail did not answer in time. Try again."));
      try {
        const ack = check(`ack:${event}`, Ack, answer);
        if (ack.ok) resolve(ack as Record<string, unknown>);
        else reject(new Error(ack.error.message));
      } catch (e) {
        reject(e);
      }
    });
  });
}
