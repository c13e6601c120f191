// The apps' front door: the log-in screen until there is a session (kept in
// localStorage, so a reload stays logged in), then the app's home. An expired
// or refused token comes back here with a message. An app that takes any
// account at its log-in (the support page) shows `wrongRole` to one of
// another role, which is never stored.
import { Fragment, useCallback, useMemo, useState, type ReactElement } from "react";
import { AuthScreen } from "./AuthScreen";
import type { Role, User } from "./contracts";
import { clearSession, loadSession, saveSession, sessionFrom, type Session } from "./session";

export type HomeProps = { session: Session; onExpired: () => void; onLogout: () => void };
export type WrongRoleProps = { user: User; onLogout: () => void };

interface Props {
  role: Role;
  home: (props: HomeProps) => ReactElement;
  wrongRole?: (props: WrongRoleProps) => ReactElement;
}

export function SessionGate({ role, home, wrongRole }: Props) {
  const initial = useMemo(() => loadSession(role), [role]);
  const [session, setSession] = useState<Session | null>(initial.session);
  const [stranger, setStranger] = useState<User | null>(null);
  const [notice, setNotice] = useState<string | null>(initial.notice);
  const expire = useCallback(() => {
    clearSession(role);
    setSession(null);
    setNotice("Your session has expired. Log in again.");
  }, [role]);
  const logout = useCallback(() => {
    clearSession(role);
    setSession(null);
    setStranger(null);
  }, [role]);
  if (stranger && wrongRole) return wrongRole({ user: stranger, onLogout: logout });
  if (!session) {
    return (
      <AuthScreen
        role={role}
        notice={notice}
        onAuthenticated={(auth) => {
          setNotice(null);
          if (auth.user.role !== role) return setStranger(auth.user);
          const s = sessionFrom(auth);
          saveSession(s);
          setSession(s);
        }}
      />
    );
  }
  // Keyed by token: a new log-in starts the home from scratch.
  return <Fragment key={session.token}>{home({ session, onExpired: expire, onLogout: logout })}</Fragment>;
}
