// Both apps' front door: the log-in screen until there is a session (kept in
// localStorage, so a reload stays logged in), then the app's home. An expired
// or refused token comes back here with a message.
import { Fragment, useCallback, useMemo, useState, type ReactElement } from "react";
import { AuthScreen } from "./AuthScreen";
import type { Role } from "./contracts";
import { clearSession, loadSession, saveSession, sessionFrom, type Session } from "./session";

export type HomeProps = { session: Session; onExpired: () => void; onLogout: () => void };

export function SessionGate({ role, home }: { role: Role; home: (props: HomeProps) => ReactElement }) {
  const initial = useMemo(() => loadSession(role), [role]);
  const [session, setSession] = useState<Session | null>(initial.session);
  const [notice, setNotice] = useState<string | null>(initial.notice);
  const expire = useCallback(() => {
    clearSession(role);
    setSession(null);
    setNotice("Your session has expired. Log in again.");
  }, [role]);
  const logout = useCallback(() => {
    clearSession(role);
    setSession(null);
  }, [role]);
  if (!session) {
    return (
      <AuthScreen
        role={role}
        notice={notice}
        onAuthenticated={(auth) => {
          const s = sessionFrom(auth);
          saveSession(s);
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }
  // Keyed by token: a new log-in starts the home from scratch.
  return <Fragment key={session.token}>{home({ session, onExpired: expire, onLogout: logout })}</Fragment>;
}
