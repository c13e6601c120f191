// What a rider or driver who logs in at the support page sees.
import type { WrongRoleProps } from "../common/SessionGate";

export function NotSupportStaff({ user, onLogout }: WrongRoleProps) {
  return (
    <div className="auth">
      <div className="auth-card" data-testid="not-support-staff">
        <div className="brand brand-large">
          <span className="brand-mark">H</span> Hail<span className="brand-sub">Support</span>
        </div>
        <h2 className="auth-title">This page is for support staff</h2>
        <p className="auth-lead">
          You are logged in as {user.name}, a {user.role} account. {user.role === "driver" ? <a href="/driver/">Open the driver app</a> : <a href="/">Open the passenger app</a>} instead.
        </p>
        <button className="btn btn-primary btn-block" onClick={onLogout}>
          Sign out
        </button>
      </div>
    </div>
  );
}
