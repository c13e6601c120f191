//! Which service owns a public route, and who may call it. Pure, so the
//! whole table is unit-tested; the proxy only looks answers up here.
//!
//! Services check roles again (defence in depth); the gateway's check means a
//! rider's request for a driver route never reaches the driver service.

use axum::http::Method;
use hail_shared::api::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    User,
    Driver,
    Trip,
}

impl Upstream {
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Driver => "driver",
            Self::Trip => "trip",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No token needed (register, login).
    Public,
    /// Any valid token.
    Authenticated,
    /// A valid token with this role; any other role is 403.
    Role(Role),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutePolicy {
    pub upstream: Upstream,
    pub access: Access,
}

/// The policy for a public path under `/api/v1`, or `None` for an unknown route.
pub fn route_policy(method: &Method, path: &str) -> Option<RoutePolicy> {
    let rest = path.strip_prefix("/api/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    let policy = |upstream, access| Some(RoutePolicy { upstream, access });
    match segments.as_slice() {
        ["auth", "register" | "login"] => policy(Upstream::User, Access::Public),
        ["auth", ..] => policy(Upstream::User, Access::Authenticated),
        ["drivers", "nearby"] => policy(Upstream::Driver, Access::Authenticated),
        ["drivers", ..] => policy(Upstream::Driver, Access::Role(Role::Driver)),
        ["trips"] if method == Method::POST => policy(Upstream::Trip, Access::Role(Role::Rider)),
        ["trips", ..] | ["rooms", ..] => policy(Upstream::Trip, Access::Authenticated),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(method: Method, path: &str) -> Option<(Upstream, Access)> {
        route_policy(&method, path).map(|p| (p.upstream, p.access))
    }

    #[test]
    fn the_route_table() {
        use Access::*;
        use Upstream::*;
        let table = [
            (Method::POST, "/api/v1/auth/register", Some((User, Public))),
            (Method::POST, "/api/v1/auth/login", Some((User, Public))),
            (Method::GET, "/api/v1/auth/me", Some((User, Authenticated))),
            (
                Method::GET,
                "/api/v1/drivers/me",
                Some((Driver, Role(super::Role::Driver))),
            ),
            (
                Method::POST,
                "/api/v1/drivers/me/location",
                Some((Driver, Role(super::Role::Driver))),
            ),
            (
                Method::GET,
                "/api/v1/drivers/nearby",
                Some((Driver, Authenticated)),
            ),
            (
                Method::POST,
                "/api/v1/trips",
                Some((Trip, Role(super::Role::Rider))),
            ),
            (Method::GET, "/api/v1/trips", Some((Trip, Authenticated))),
            (
                Method::POST,
                "/api/v1/trips/abc/accept",
                Some((Trip, Authenticated)),
            ),
            (
                Method::GET,
                "/api/v1/rooms/Westie:mon:08:00",
                Some((Trip, Authenticated)),
            ),
            (Method::GET, "/api/v1/tripsx", None),
            (Method::GET, "/api/v1/internal/drivers", None),
            (Method::GET, "/api/v2/auth/me", None),
            (Method::GET, "/api/v1/", None),
            (Method::GET, "/internal/drivers", None),
        ];
        for (method, path, expected) in table {
            assert_eq!(policy(method.clone(), path), expected, "{method} {path}");
        }
    }
}
