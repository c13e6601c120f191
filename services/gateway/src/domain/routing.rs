//! The public routes: which service owns each, and who may call it. Pure,
//! so the whole table is unit-tested; the proxy only looks answers up here.
//!
//! The table is exact (method and every segment), and the path the proxy
//! sends upstream is rebuilt from the matched route: its literal segments
//! plus each parameter, decoded, checked and encoded again. Nothing a client
//! writes in a path can make the proxy reach a route that is not in this
//! table (an upstream's `/internal/...`, `/metrics` or `/readyz`).
//!
//! Services check roles again (defence in depth); the gateway's check means a
//! rider's request for a driver route never reaches the driver service.

use axum::http::Method;
use hail_shared::api::Role;

use super::paths::decode_segment;

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

/// One public route: `pattern` segments are literals or `{name}` parameters.
#[derive(Clone, Debug)]
pub struct PublicRoute {
    pub method: Method,
    pub pattern: &'static str,
    pub upstream: Upstream,
    pub access: Access,
}

const fn route(
    method: Method,
    pattern: &'static str,
    upstream: Upstream,
    access: Access,
) -> PublicRoute {
    PublicRoute {
        method,
        pattern,
        upstream,
        access,
    }
}

const DRIVER: Access = Access::Role(Role::Driver);
const RIDER: Access = Access::Role(Role::Rider);
const SUPPORT: Access = Access::Role(Role::Support);
const ANY: Access = Access::Authenticated;

/// A driver's REST location ping: the driver service's route, but the
/// gateway batches it with the socket pings (`crate::realtime::pings`)
/// instead of forwarding each.
pub const LOCATION_PING: &str = "/api/v1/drivers/me/location";

/// Every route the gateway forwards (API.md). A route missing here is a 404
/// at the gateway, whatever the services serve.
pub const PUBLIC_ROUTES: &[PublicRoute] = &[
    route(
        Method::POST,
        "/api/v1/auth/register",
        Upstream::User,
        Access::Public,
    ),
    route(
        Method::POST,
        "/api/v1/auth/login",
        Upstream::User,
        Access::Public,
    ),
    route(Method::GET, "/api/v1/auth/me", Upstream::User, ANY),
    route(Method::GET, "/api/v1/drivers/me", Upstream::Driver, DRIVER),
    route(
        Method::PUT,
        "/api/v1/drivers/me/vehicle",
        Upstream::Driver,
        DRIVER,
    ),
    route(
        Method::POST,
        "/api/v1/drivers/me/online",
        Upstream::Driver,
        DRIVER,
    ),
    route(
        Method::POST,
        "/api/v1/drivers/me/offline",
        Upstream::Driver,
        DRIVER,
    ),
    route(Method::POST, LOCATION_PING, Upstream::Driver, DRIVER),
    route(Method::GET, "/api/v1/drivers/nearby", Upstream::Driver, ANY),
    route(Method::POST, "/api/v1/trips", Upstream::Trip, RIDER),
    route(
        Method::POST,
        "/api/v1/trips/estimate",
        Upstream::Trip,
        RIDER,
    ),
    route(
        Method::POST,
        "/api/v1/trips/{id}/arrive",
        Upstream::Trip,
        ANY,
    ),
    route(Method::GET, "/api/v1/trips", Upstream::Trip, ANY),
    route(Method::GET, "/api/v1/trips/{id}", Upstream::Trip, ANY),
    route(
        Method::POST,
        "/api/v1/trips/{id}/accept",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/trips/{id}/decline",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/trips/{id}/start",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/trips/{id}/complete",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/trips/{id}/cancel",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::GET,
        "/api/v1/trips/{id}/events",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/trips/{id}/rating",
        Upstream::Trip,
        RIDER,
    ),
    route(
        Method::GET,
        "/api/v1/support/drivers/{driver_id}/dispatches",
        Upstream::Trip,
        SUPPORT,
    ),
    route(Method::GET, "/api/v1/rooms/{key}", Upstream::Trip, ANY),
    route(
        Method::POST,
        "/api/v1/rooms/{key}/drivers",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::DELETE,
        "/api/v1/rooms/{key}/drivers/me",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/rooms/{key}/riders",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::DELETE,
        "/api/v1/rooms/{key}/riders/me",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/rooms/{key}/select",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/rooms/{key}/respond",
        Upstream::Trip,
        ANY,
    ),
    route(
        Method::POST,
        "/api/v1/rooms/{key}/rides/{ride_id}/cancel",
        Upstream::Trip,
        ANY,
    ),
];

/// A request matched to a public route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    pub upstream: Upstream,
    pub access: Access,
    /// The path to send upstream, rebuilt from the route (never the raw path).
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRoute {
    /// No public route has this path.
    NotFound,
    /// Some public route has this path, not with this method.
    WrongMethod,
}

/// The public route for `method` and the raw (still percent-encoded) `path`.
pub fn match_route(method: &Method, path: &str) -> Result<Matched, NoRoute> {
    let mut path_known = false;
    for route in PUBLIC_ROUTES {
        if !same_shape(route.pattern, path) {
            continue;
        }
        let Some(upstream_path) = rebuild(route.pattern, path) else {
            continue;
        };
        if route.method == method {
            return Ok(Matched {
                upstream: route.upstream,
                access: route.access,
                path: upstream_path,
            });
        }
        path_known = true;
    }
    Err(if path_known {
        NoRoute::WrongMethod
    } else {
        NoRoute::NotFound
    })
}

/// Whether `path` has `pattern`'s segments: as many, and its literals where
/// the pattern has them (parameters are checked by [`rebuild`]). Allocates
/// nothing, so trying every route costs little.
fn same_shape(pattern: &str, path: &str) -> bool {
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(want), Some(got)) if want.starts_with('{') || want == got => {}
            _ => return false,
        }
    }
}

/// `path` rebuilt on `pattern` when it matches segment by segment: literals
/// equal, each parameter a segment that decodes to a value of safe
/// characters, re-encoded for the upstream.
fn rebuild(pattern: &str, path: &str) -> Option<String> {
    let mut rebuilt = String::with_capacity(path.len());
    for (i, (want, got)) in pattern.split('/').zip(path.split('/')).enumerate() {
        if i > 0 {
            rebuilt.push('/');
        }
        if want.starts_with('{') {
            rebuilt.push_str(&parameter(got)?);
        } else if want == got {
            rebuilt.push_str(want);
        } else {
            return None;
        }
    }
    Some(rebuilt)
}

/// A parameter segment (an id, a room key) for the upstream: decoded once,
/// it must be 1..=256 bytes, without control characters or separators, and
/// not a dot segment (the owner service judges the rest, with its own
/// errors); then it is encoded again, every byte but the unreserved ones
/// and `:` `@` as `%XX`, so the upstream decodes exactly this value.
fn parameter(segment: &str) -> Option<String> {
    let value = decode_segment(segment)?;
    if value.is_empty() || value.len() > 256 || value == "." || value == ".." {
        return None;
    }
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Some(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn routed(method: Method, path: &str) -> Result<(Upstream, Access, String), NoRoute> {
        match_route(&method, path).map(|m| (m.upstream, m.access, m.path))
    }

    #[test]
    fn the_route_table() {
        use Access::*;
        use Upstream::*;
        let ok = |u, a, p: &str| Ok((u, a, p.to_string()));
        let table = [
            (
                Method::POST,
                "/api/v1/auth/register",
                ok(User, Public, "/api/v1/auth/register"),
            ),
            (
                Method::GET,
                "/api/v1/auth/me",
                ok(User, Authenticated, "/api/v1/auth/me"),
            ),
            (
                Method::POST,
                "/api/v1/drivers/me/location",
                ok(Driver, DRIVER, "/api/v1/drivers/me/location"),
            ),
            (
                Method::GET,
                "/api/v1/drivers/nearby",
                ok(Driver, Authenticated, "/api/v1/drivers/nearby"),
            ),
            (
                Method::POST,
                "/api/v1/trips",
                ok(Trip, RIDER, "/api/v1/trips"),
            ),
            (
                Method::GET,
                "/api/v1/trips",
                ok(Trip, Authenticated, "/api/v1/trips"),
            ),
            (
                Method::POST,
                "/api/v1/trips/abc/accept",
                ok(Trip, Authenticated, "/api/v1/trips/abc/accept"),
            ),
            (
                Method::GET,
                "/api/v1/rooms/Westie%3Amon%3A08%3A00",
                ok(Trip, Authenticated, "/api/v1/rooms/Westie:mon:08:00"),
            ),
            (
                Method::GET,
                "/api/v1/rooms/sg.Westie:mon:08:00",
                ok(Trip, Authenticated, "/api/v1/rooms/sg.Westie:mon:08:00"),
            ),
            (Method::DELETE, "/api/v1/trips", Err(NoRoute::WrongMethod)),
            (Method::GET, "/api/v1/tripsx", Err(NoRoute::NotFound)),
            (
                Method::GET,
                "/api/v1/internal/drivers",
                Err(NoRoute::NotFound),
            ),
            (Method::GET, "/api/v2/auth/me", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1/", Err(NoRoute::NotFound)),
            (Method::GET, "/internal/drivers", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1/trips/", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1//trips", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1/trips/%2e%2e", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1/trips/a%2fb", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1/trips/a%5cb", Err(NoRoute::NotFound)),
            (Method::GET, "/api/v1/trips/a%00", Err(NoRoute::NotFound)),
            (
                Method::GET,
                "/api/v1/trips/%252e",
                ok(Trip, Authenticated, "/api/v1/trips/%252e"),
            ),
            (
                Method::GET,
                "/api/v1/rooms/We%20st:mon",
                ok(Trip, Authenticated, "/api/v1/rooms/We%20st:mon"),
            ),
            (
                Method::GET,
                "/api/v1/rooms/a;b=c",
                ok(Trip, Authenticated, "/api/v1/rooms/a%3Bb%3Dc"),
            ),
            (Method::GET, "/api/v1/drivers/me/..", Err(NoRoute::NotFound)),
        ];
        for (method, path, expected) in table {
            assert_eq!(routed(method.clone(), path), expected, "{method} {path}");
        }
    }

    #[test]
    fn every_pattern_is_well_formed_and_unique() {
        for (i, a) in PUBLIC_ROUTES.iter().enumerate() {
            assert!(a.pattern.starts_with("/api/v1/"), "{}", a.pattern);
            for b in &PUBLIC_ROUTES[i + 1..] {
                assert!(
                    !(a.pattern == b.pattern && a.method == b.method),
                    "{} {} twice",
                    a.method,
                    a.pattern
                );
            }
        }
    }

    proptest! {
        /// Whatever the client writes, the upstream path is one of the
        /// table's patterns with plain parameters: never a dot segment,
        /// never an encoded character, never `/internal/`.
        #[test]
        fn the_upstream_path_is_always_a_public_pattern(
            segments in proptest::collection::vec(
                prop_oneof![
                    Just("api".to_string()), Just("v1".to_string()), Just("trips".to_string()),
                    Just("drivers".to_string()), Just("internal".to_string()), Just("me".to_string()),
                    Just("..".to_string()), Just("%2e%2e".to_string()), Just(".%2E".to_string()),
                    Just("%2f".to_string()), Just("rooms".to_string()), Just("accept".to_string()),
                    "[a-zA-Z0-9%.:;\\\\-]{0,12}",
                ],
                0..8,
            ),
            method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::DELETE)],
        ) {
            let path = format!("/{}", segments.join("/"));
            if let Ok(matched) = match_route(&method, &path) {
                let up = matched.path;
                prop_assert!(!up.contains('\\') && !up.contains("%2F") && !up.contains("%5C"), "{}", up);
                prop_assert!(!up.contains("/internal"), "{}", up);
                prop_assert!(up.split('/').all(|s| s != "." && s != ".."), "{}", up);
                let fits = PUBLIC_ROUTES.iter().any(|r| {
                    r.method == method
                        && same_shape(r.pattern, &up)
                        && rebuild(r.pattern, &up).as_deref() == Some(up.as_str())
                });
                prop_assert!(fits, "{} {}", method, up);
            }
        }
    }
}
