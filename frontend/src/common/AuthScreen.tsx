// Sign up / log in for one app (its role). On success the caller stores the
// session. The support page only logs in: support accounts are made by an
// operator, never registered.
import { useState, type FormEvent } from "react";
import { Api, errorText } from "./api";
import { AuthResponse, type Role } from "./contracts";
import { wrongAppMessage } from "./session";

const FRONT: Record<Role, { sub: string | null; lead: string; canRegister: boolean }> = {
  rider: { sub: null, lead: "A ride in minutes, wherever you are.", canRegister: true },
  driver: { sub: "Driver", lead: "Drive when you like. Get trips nearby.", canRegister: true },
  support: { sub: "Support", lead: "Trips and dispatches, for Hail support staff.", canRegister: false },
};

interface Props {
  role: Role;
  notice: string | null;
  onAuthenticated: (auth: AuthResponse) => void;
}

export function AuthScreen({ role, notice, onAuthenticated }: Props) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const front = FRONT[role];

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const api = new Api(null);
      const auth =
        mode === "register"
          ? await api.post("/auth/register", "AuthResponse", AuthResponse, { email, password, name, role })
          : await api.post("/auth/login", "AuthResponse", AuthResponse, { email, password });
      const wrong = wrongAppMessage(role, auth.user.role);
      if (wrong) {
        setError(wrong);
        return;
      }
      onAuthenticated(auth);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth">
      <div className="auth-card">
        <div className="brand brand-large">
          <span className="brand-mark">H</span> Hail{front.sub && <span className="brand-sub">{front.sub}</span>}
        </div>
        <p className="auth-lead">{front.lead}</p>
        {front.canRegister ? (
          <div className="segmented" role="tablist">
            <button type="button" role="tab" aria-selected={mode === "login"} className={mode === "login" ? "on" : ""} onClick={() => setMode("login")}>
              Log in
            </button>
            <button type="button" role="tab" aria-selected={mode === "register"} className={mode === "register" ? "on" : ""} onClick={() => setMode("register")}>
              Sign up
            </button>
          </div>
        ) : (
          <h2 className="auth-title">Staff log-in</h2>
        )}
        {notice && <div className="alert alert-warning" data-testid="auth-notice">{notice}</div>}
        <form onSubmit={submit}>
          {mode === "register" && (
            <label>
              Name
              <input name="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={80} autoComplete="name" />
            </label>
          )}
          <label>
            Email
            <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="email" />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
              minLength={mode === "register" ? 8 : undefined}
              autoComplete={mode === "register" ? "new-password" : "current-password"}
            />
          </label>
          {error && <div className="alert alert-error" role="alert" data-testid="auth-error">{error}</div>}
          <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
            {busy ? "One moment…" : mode === "register" ? (role === "driver" ? "Create driver account" : "Create account") : "Log in"}
          </button>
        </form>
        {role !== "support" && (
          <p className="auth-switch">
            {role === "rider" ? <a href="/driver/">Driving with Hail? Open the driver app</a> : <a href="/">Need a ride? Open the passenger app</a>}
          </p>
        )}
      </div>
    </div>
  );
}
