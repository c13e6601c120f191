//! The settings as a service sees them, from a map of variables.

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn production_without_a_jwt_secret_refuses_with_a_hint() {
    let err = config(&[("HAIL_INTERNAL_TOKEN", &"x".repeat(40))]).unwrap_err();
    assert!(
        err.to_string().contains("HAIL_JWT_SECRET is not set"),
        "{err}"
    );
    assert!(err.to_string().contains("HAIL_ENV=dev"), "{err}");
}

#[test]
fn production_refuses_a_short_secret() {
    let err = config(&[
        ("HAIL_JWT_SECRET", "short"),
        ("HAIL_INTERNAL_TOKEN", &"x".repeat(40)),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("too short"), "{err}");
}

#[test]
fn dev_uses_the_builtin_secrets_and_local_defaults() {
    let c = config(&[("HAIL_ENV", "dev")]).unwrap();
    assert_eq!(c.jwt_secret, DEV_JWT_SECRET);
    assert_eq!(c.internal_token, DEV_INTERNAL_TOKEN);
    assert_eq!(c.ports.gateway, 3000);
    assert_eq!(c.upstreams.driver, "http://127.0.0.1:3002");
    assert_eq!(c.service_host, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(c.dispatch.mode, MatchMode::Offer);
    assert_eq!(c.dispatch.offer_timeout, Duration::from_secs(15));
    assert_eq!(c.dispatch.strategy, MatchStrategy::Greedy);
    assert_eq!(c.dispatch.batch_window, Duration::from_millis(2000));
    assert_eq!(c.presence_refresh, Duration::from_secs(10));
}

#[test]
fn upstream_urls_follow_the_ports() {
    let c = config(&[("HAIL_ENV", "dev"), ("HAIL_USER_PORT", "4001")]).unwrap();
    assert_eq!(c.upstreams.user, "http://127.0.0.1:4001");
}

#[test]
fn rate_limits_and_cors_have_defaults_and_parse() {
    let dev = config(&[("HAIL_ENV", "dev")]).unwrap();
    assert_eq!(dev.cors_origins, vec!["http://localhost:5173".to_string()]);
    assert!(dev.rate_limits.trusted_proxies.is_empty());
    assert_eq!(
        dev.rate_limits.per_user,
        RateLimit {
            per_minute: 600,
            burst: 100
        }
    );
    let prod = config(&[
        ("HAIL_JWT_SECRET", &"j".repeat(40)),
        ("HAIL_INTERNAL_TOKEN", &"x".repeat(40)),
    ])
    .unwrap();
    assert!(prod.cors_origins.is_empty(), "no CORS unless configured");
    assert!(prod.rate_limits.auth_per_ip.per_minute < dev.rate_limits.auth_per_ip.per_minute);

    let c = config(&[
        ("HAIL_ENV", "dev"),
        (
            "HAIL_CORS_ORIGINS",
            "https://a.example, https://b.example:8443",
        ),
        ("HAIL_TRUSTED_PROXIES", "10.0.0.1, ::1"),
        ("HAIL_RATE_LIMIT_AUTH_PER_MIN", "3"),
        ("HAIL_RATE_LIMIT_AUTH_BURST", "2"),
    ])
    .unwrap();
    assert_eq!(
        c.cors_origins,
        ["https://a.example", "https://b.example:8443"]
    );
    assert_eq!(
        c.rate_limits.trusted_proxies,
        vec![
            IpAddr::from([10, 0, 0, 1]),
            "::1".parse::<IpAddr>().unwrap()
        ]
    );
    assert_eq!(
        c.rate_limits.auth_per_ip,
        RateLimit {
            per_minute: 3,
            burst: 2
        }
    );
    let none = config(&[("HAIL_ENV", "dev"), ("HAIL_CORS_ORIGINS", "none")]).unwrap();
    assert!(none.cors_origins.is_empty());
}

#[test]
fn bad_rate_limits_and_origins_name_the_variable() {
    for (name, value) in [
        ("HAIL_RATE_LIMIT_USER_BURST", "0"),
        ("HAIL_RATE_LIMIT_IP_PER_MIN", "lots"),
        ("HAIL_TRUSTED_PROXIES", "10.0.0.0/8"),
        ("HAIL_CORS_ORIGINS", "https://a.example/app/"),
        ("HAIL_CORS_ORIGINS", "a.example"),
    ] {
        let err = config(&[("HAIL_ENV", "dev"), (name, value)]).unwrap_err();
        assert!(err.to_string().contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn bad_values_name_the_variable() {
    let err = config(&[("HAIL_ENV", "dev"), ("HAIL_TRIP_PORT", "many")]).unwrap_err();
    assert!(err.to_string().contains("HAIL_TRIP_PORT"), "{err}");
    let err = config(&[("HAIL_ENV", "dev"), ("HAIL_OFFER_TIMEOUT_SECS", "-1")]).unwrap_err();
    assert!(err.to_string().contains("HAIL_OFFER_TIMEOUT_SECS"), "{err}");
    let err = config(&[("HAIL_ENV", "dev"), ("HAIL_PRESENCE_REFRESH_MS", "0")]).unwrap_err();
    assert!(
        err.to_string().contains("HAIL_PRESENCE_REFRESH_MS"),
        "{err}"
    );
    let c = config(&[("HAIL_ENV", "dev"), ("HAIL_PRESENCE_REFRESH_MS", "200")]).unwrap();
    assert_eq!(c.presence_refresh, Duration::from_millis(200));
    for (name, value) in [
        ("HAIL_MATCH_STRATEGY", "best"),
        ("HAIL_BATCH_WINDOW_MS", "0"),
        ("HAIL_BATCH_WINDOW_MS", "soon"),
        ("HAIL_BATCH_CANDIDATES", "0"),
    ] {
        let err = config(&[("HAIL_ENV", "dev"), (name, value)]).unwrap_err();
        assert!(err.to_string().contains(name), "{name}={value}: {err}");
    }
    let c = config(&[
        ("HAIL_ENV", "dev"),
        ("HAIL_MATCH_STRATEGY", "batched"),
        ("HAIL_BATCH_WINDOW_MS", "1000"),
        ("HAIL_BATCH_CANDIDATES", "12"),
    ])
    .unwrap();
    assert_eq!(
        (
            c.dispatch.strategy,
            c.dispatch.batch_window,
            c.dispatch.batch_candidates
        ),
        (MatchStrategy::Batched, Duration::from_secs(1), 12)
    );
    let err = config(&[("HAIL_ENV", "staging")]).unwrap_err();
    assert!(err.to_string().contains("HAIL_ENV"), "{err}");
}

#[test]
fn hail_timezone_is_refused_with_where_time_zones_live_now() {
    let err = config(&[("HAIL_ENV", "dev"), ("HAIL_TIMEZONE", "UTC")]).unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("HAIL_TIMEZONE") && err.contains("HAIL_CITIES_FILE"),
        "{err}"
    );
}

#[test]
fn a_city_s_dispatch_settings_override_the_global_ones_and_are_checked_together() {
    let dir = std::env::temp_dir().join(format!("hail-cities-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cities.toml");
    std::fs::write(
        &file,
        "[[city]]\nid = \"a\"\nname = \"A\"\nbbox = [0.0, 0.0, 1.0, 1.0]\n\
         match_mode = \"auto\"\noffer_timeout_secs = 4\nmatch_strategy = \"batched\"\n\
         batch_window_ms = 1000\n\
         [[city]]\nid = \"b\"\nname = \"B\"\nbbox = [2.0, 2.0, 3.0, 3.0]\n\
         search_radius_km = 2\n",
    )
    .unwrap();
    let path = file.to_string_lossy().to_string();
    let c = config(&[("HAIL_ENV", "dev"), ("HAIL_CITIES_FILE", &path)]).unwrap();
    let [a, b] = [0, 1].map(|i| c.dispatch.for_city(&c.cities.all()[i].dispatch));
    assert_eq!(
        (a.mode, a.offer_timeout),
        (MatchMode::Auto, Duration::from_secs(4))
    );
    assert_eq!((a.search_radius_km, a.max_search_radius_km), (3.0, 10.0));
    assert_eq!(
        (a.strategy, a.batch_window, b.strategy, b.batch_window),
        (
            MatchStrategy::Batched,
            Duration::from_secs(1),
            MatchStrategy::Greedy,
            Duration::from_secs(2)
        )
    );
    assert_eq!(
        (b.mode, b.offer_timeout),
        (MatchMode::Offer, Duration::from_secs(15))
    );
    assert_eq!(b.search_radius_km, 2.0);
    // City b's first radius above the global maximum: refused, naming it.
    let err = config(&[
        ("HAIL_ENV", "dev"),
        ("HAIL_CITIES_FILE", &path),
        ("HAIL_MAX_SEARCH_RADIUS_KM", "1.5"),
        ("HAIL_SEARCH_RADIUS_KM", "1"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"b\"") && err.contains("max_search_radius_km"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
