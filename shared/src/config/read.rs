//! Reading one variable: parsed, range-checked, and when wrong, an error
//! that names the variable and what it should hold.

use std::str::FromStr;

use super::{ConfigError, Environment, RateLimit, MIN_SECRET_LEN};

/// `HAIL_RATE_LIMIT_<NAME>_PER_MIN` and `HAIL_RATE_LIMIT_<NAME>_BURST`.
pub(super) fn rate_limit(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: RateLimit,
) -> Result<RateLimit, ConfigError> {
    let per_minute_var = format!("HAIL_RATE_LIMIT_{name}_PER_MIN");
    let burst_var = format!("HAIL_RATE_LIMIT_{name}_BURST");
    let limit = RateLimit {
        per_minute: parse(var, &per_minute_var, default.per_minute)?,
        burst: parse(var, &burst_var, default.burst)?,
    };
    if limit.per_minute == 0 || limit.burst == 0 {
        return Err(ConfigError(format!(
            "{per_minute_var} and {burst_var} must be at least 1 (raise them to loosen the limit)"
        )));
    }
    Ok(limit)
}

/// A comma-separated list, blanks dropped.
pub(super) fn list(var: &impl Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn secret(
    var: &impl Fn(&str) -> Option<String>,
    environment: Environment,
    name: &str,
    dev_default: &str,
) -> Result<String, ConfigError> {
    match (var(name), environment) {
        (Some(value), _) if value.len() >= MIN_SECRET_LEN || environment == Environment::Dev => {
            Ok(value)
        }
        (Some(_), _) => Err(ConfigError(format!(
            "{name} is too short: use at least {MIN_SECRET_LEN} random characters (for example `openssl rand -hex 32`)"
        ))),
        (None, Environment::Dev) => Ok(dev_default.to_string()),
        (None, Environment::Production) => Err(ConfigError(format!(
            "{name} is not set. Set it to at least {MIN_SECRET_LEN} random characters (for example `export {name}=$(openssl rand -hex 32)`), or set HAIL_ENV=dev to use the built-in development value"
        ))),
    }
}

pub(super) fn parse<T: FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name}={raw:?} is not a valid value"))),
    }
}

pub(super) fn at_least_one<T: FromStr + PartialOrd + From<u8>>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, ConfigError> {
    let value: T = parse(var, name, default)?;
    if value >= T::from(1) {
        Ok(value)
    } else {
        Err(ConfigError(format!("{name} must be at least 1")))
    }
}

pub(super) fn positive(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: f64,
) -> Result<f64, ConfigError> {
    let value: f64 = parse(var, name, default)?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ConfigError(format!("{name} must be a positive number")))
    }
}
