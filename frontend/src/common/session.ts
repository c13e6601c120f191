// The signed-in person, kept in localStorage per app so a reload keeps the
// session and the passenger and driver apps can be open side by side.
import { AuthResponse, type Role, type User } from "./contracts";

export interface Session {
  token: string;
  user: User;
  /** Epoch milliseconds after which the token is refused. */
  expiresAt: number;
}

const storageKey = (role: Role) => `hail.session.${role}`;

/** Why an account cannot use this app's sign-in, or null when it can. The
 * support page takes any account and says so itself (SessionGate). */
export function wrongAppMessage(app: Role, account: Role): string | null {
  if (app === account || app === "support") return null;
  if (account === "support") return "That is a support account. Support staff use the support page (/support/).";
  return account === "driver" ? "That is a driver account. Drivers use the driver app (/driver/)." : "That is a rider account. Riders book at the passenger app (/).";
}

export function sessionFrom(auth: AuthResponse, now = Date.now()): Session {
  return { token: auth.access_token, user: auth.user, expiresAt: now + auth.expires_in * 1000 };
}

/** A stored session, or why there is none (for the login screen). */
export function loadSession(role: Role, now = Date.now()): { session: Session | null; notice: string | null } {
  const raw = localStorage.getItem(storageKey(role));
  if (!raw) return { session: null, notice: null };
  try {
    const s = JSON.parse(raw) as Session;
    if (typeof s.token !== "string" || !s.user || s.user.role !== role) throw new Error("bad");
    if (s.expiresAt <= now) {
      localStorage.removeItem(storageKey(role));
      return { session: null, notice: "Your session has expired. Log in again." };
    }
    return { session: s, notice: null };
  } catch {
    localStorage.removeItem(storageKey(role));
    return { session: null, notice: null };
  }
}

export function saveSession(s: Session) {
  localStorage.setItem(storageKey(s.user.role), JSON.stringify(s));
}

export function clearSession(role: Role) {
  localStorage.removeItem(storageKey(role));
}
