//! Cities: the service areas Hail serves (API.md, "Cities"). Read once at
//! start from the TOML file `HAIL_CITIES_FILE` names, or the built-in `sg`
//! when none is set, and checked whole: a file with any mistake stops the
//! service at start with the city and the key to fix, never a surprise at
//! the first request.
//!
//! A point belongs to the first city whose area holds it; a pickup in no
//! city is refused (`outside_service_area`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::geo::{LatLng, MAX_GEO_LAT};

/// The built-in city when no file is set: the 30 km box around Singapore.
pub const DEFAULT_CITY: &str = "sg";

/// The built-in city's area (the simulator's default box too).
pub const SINGAPORE_BBOX: BBox = BBox {
    min_lat: 1.2172,
    min_lng: 103.6849,
    max_lat: 1.487,
    max_lng: 103.9547,
};

/// Dispatch settings API.md lists that no city may set: the over-fetch is
/// the driver service's, one for every city. A file that sets one is
/// refused at start rather than silently ignored.
const UNSUPPORTED_PER_CITY: &[&str] = &["candidate_overfetch"];

/// Every city, in the file's order (the order a point is looked up in).
#[derive(Clone, Debug)]
pub struct Cities(Vec<City>);

#[derive(Clone, Debug, PartialEq)]
pub struct City {
    pub id: String,
    pub name: String,
    pub bbox: BBox,
    pub timezone: chrono_tz::Tz,
    pub currency: String,
    /// Road distance over straight-line distance, for estimates and ETAs.
    pub route_factor: f64,
    pub avg_speed_kmh: f64,
    pub pickup_pin: bool,
    pub tariff: Tariff,
    /// Dispatch settings this city sets; unset ones take the global value.
    pub dispatch: CityDispatch,
}

/// A city's own dispatch settings (`match_mode`, `offer_timeout_secs`, ...
/// in the file); `None` takes the global `HAIL_*` value
/// (`crate::config::DispatchConfig::for_city`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CityDispatch {
    pub match_mode: Option<crate::config::MatchMode>,
    pub match_strategy: Option<crate::config::MatchStrategy>,
    pub batch_window_ms: Option<u64>,
    pub batch_candidates: Option<usize>,
    pub offer_timeout_secs: Option<f64>,
    pub search_radius_km: Option<f64>,
    pub max_search_radius_km: Option<f64>,
    pub match_deadline_secs: Option<f64>,
}

/// `[min_lat, min_lng, max_lat, max_lng]`, bounds included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBox {
    pub min_lat: f64,
    pub min_lng: f64,
    pub max_lat: f64,
    pub max_lng: f64,
}

impl BBox {
    pub fn contains(&self, p: LatLng) -> bool {
        (self.min_lat..=self.max_lat).contains(&p.lat)
            && (self.min_lng..=self.max_lng).contains(&p.lng)
    }

    /// The box's area in km² (a degree of latitude is 111 km; a degree of
    /// longitude that times the cosine of the middle latitude).
    pub fn area_km2(&self) -> f64 {
        let middle = ((self.min_lat + self.max_lat) / 2.0).to_radians();
        (self.max_lat - self.min_lat) * 111.0 * (self.max_lng - self.min_lng) * 111.0 * middle.cos()
    }
}

/// Amounts in hundredths of the currency's major unit (exact integers, never
/// floating-point sums); the multiplier in hundredths too (150 = 1.5x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tariff {
    pub base: i64,
    pub per_km: i64,
    pub per_min: i64,
    pub minimum: i64,
    pub premium_multiplier: i64,
}

/// What `GET /api/v1/cities` shows of a city.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CitySummary {
    /// Slug, `[a-z0-9-]{1,32}`.
    pub id: String,
    pub name: String,
    /// `[min_lat, min_lng, max_lat, max_lng]`.
    pub bbox: [f64; 4],
    /// IANA time zone.
    pub timezone: String,
    /// ISO 4217 code.
    pub currency: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct CitiesError(String);

impl Cities {
    /// The built-in city `sg`, with every default of API.md.
    pub fn builtin() -> Self {
        Self(vec![City {
            id: DEFAULT_CITY.into(),
            name: "Singapore".into(),
            bbox: SINGAPORE_BBOX,
            timezone: chrono_tz::Asia::Singapore,
            currency: "SGD".into(),
            route_factor: 1.3,
            avg_speed_kmh: 30.0,
            pickup_pin: false,
            tariff: Tariff::DEFAULT,
            dispatch: CityDispatch::default(),
        }])
    }

    /// Parses and checks a cities file; `source` names it in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<Self, CitiesError> {
        let file: RawFile = toml::from_str(text)
            .map_err(|err| CitiesError(format!("{source}: not a cities file: {err}")))?;
        if file.city.is_empty() {
            return Err(CitiesError(format!(
                "{source}: no city: add at least one [[city]] with id, name and bbox"
            )));
        }
        let mut cities: Vec<City> = Vec::with_capacity(file.city.len());
        for (k, raw) in file.city.into_iter().enumerate() {
            let at = format!("{source}: city {} ({:?})", k + 1, raw.id);
            let city = raw
                .check()
                .map_err(|why| CitiesError(format!("{at}: {why}")))?;
            if cities.iter().any(|c| c.id == city.id) {
                return Err(CitiesError(format!(
                    "{at}: the id is taken by an earlier city; ids must be unique"
                )));
            }
            cities.push(city);
        }
        Ok(Self(cities))
    }

    /// The first city whose area holds `p`.
    pub fn at(&self, p: LatLng) -> Option<&City> {
        self.0.iter().find(|c| c.bbox.contains(p))
    }

    pub fn get(&self, id: &str) -> Option<&City> {
        self.0.iter().find(|c| c.id == id)
    }

    /// The first city: where a room origin that names no city lies.
    pub fn default_city(&self) -> &City {
        // `from_toml` and `builtin` never build an empty list.
        &self.0[0]
    }

    pub fn all(&self) -> &[City] {
        &self.0
    }

    /// Splits a carpool room key `[<city>.]<origin>:<day>:<HH:MM>` into its
    /// city and the rest. No city, or the default city named: `None`, so
    /// `sg.Westie:mon:08:00` and `Westie:mon:08:00` are one room (when `sg`
    /// is the default) and answer with the short key. An unknown city is an
    /// error that says where the list is.
    pub fn room_city<'k>(&self, key: &'k str) -> Result<(Option<&City>, &'k str), String> {
        let origin = key.split(':').next().unwrap_or_default();
        let Some((id, _)) = origin.split_once('.') else {
            return Ok((None, key));
        };
        let rest = &key[id.len() + 1..];
        match self.get(id) {
            Some(city) if city.id == self.default_city().id => Ok((None, rest)),
            Some(city) => Ok((Some(city), rest)),
            None => Err(format!(
                "no city {id:?}: a room key may start with a city id from GET /api/v1/cities"
            )),
        }
    }

    /// The one spelling of a room key (see `room_city`), or the key as
    /// given when it names no known city.
    pub fn canonical_room_key(&self, key: &str) -> String {
        match self.room_city(key) {
            Ok((Some(city), rest)) => format!("{}.{rest}", city.id),
            Ok((None, rest)) => rest.to_string(),
            Err(_) => key.to_string(),
        }
    }

    pub fn summaries(&self) -> Vec<CitySummary> {
        self.0.iter().map(City::summary).collect()
    }
}

impl City {
    /// The road distance for a straight line of `straight_km` (times the
    /// city's `route_factor`).
    pub fn road_km(&self, straight_km: f64) -> f64 {
        straight_km * self.route_factor
    }

    /// How long `road_km` takes at the city's `avg_speed_kmh`, in whole
    /// seconds (rounded up, so a driver 10 m away is not "0 s" away).
    pub fn travel_secs(&self, road_km: f64) -> u64 {
        // To the millisecond first, so 13 km at 30 km/h is 1560 s, not the
        // 1561 a float's last bit would round up to.
        let secs = (road_km / self.avg_speed_kmh * 3_600_000.0).round() / 1000.0;
        if secs.is_finite() && secs > 0.0 {
            secs.ceil() as u64
        } else {
            0
        }
    }

    /// The pickup ETA of a driver at `from`: the straight line to `pickup`
    /// on the road, at the city's speed.
    pub fn eta_secs(&self, from: LatLng, pickup: LatLng) -> u64 {
        self.travel_secs(self.road_km(from.distance_km(&pickup)))
    }

    pub fn summary(&self) -> CitySummary {
        let b = self.bbox;
        CitySummary {
            id: self.id.clone(),
            name: self.name.clone(),
            bbox: [b.min_lat, b.min_lng, b.max_lat, b.max_lng],
            timezone: self.timezone.name().to_string(),
            currency: self.currency.clone(),
        }
    }
}

impl Tariff {
    /// API.md's defaults (SGD): 3.00 + 0.70/km + 0.25/min, at least 6.00,
    /// premium 1.5x.
    pub const DEFAULT: Self = Self {
        base: 300,
        per_km: 70,
        per_min: 25,
        minimum: 600,
        premium_multiplier: 150,
    };
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    city: Vec<RawCity>,
}

#[derive(Deserialize)]
struct RawCity {
    id: String,
    name: String,
    bbox: [f64; 4],
    timezone: Option<String>,
    currency: Option<String>,
    route_factor: Option<f64>,
    avg_speed_kmh: Option<f64>,
    pickup_pin: Option<bool>,
    tariff: Option<RawTariff>,
    match_mode: Option<String>,
    match_strategy: Option<String>,
    batch_window_ms: Option<u64>,
    batch_candidates: Option<usize>,
    offer_timeout_secs: Option<f64>,
    search_radius_km: Option<f64>,
    max_search_radius_km: Option<f64>,
    match_deadline_secs: Option<f64>,
    /// Everything else: settings no city may set, or mistakes.
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTariff {
    base: Option<f64>,
    per_km: Option<f64>,
    per_min: Option<f64>,
    minimum: Option<f64>,
    premium_multiplier: Option<f64>,
}

impl RawCity {
    fn check(self) -> Result<City, String> {
        if let Some(key) = self.other.keys().next() {
            return Err(if UNSUPPORTED_PER_CITY.contains(&key.as_str()) {
                format!(
                    "`{key}` per city is not supported: set HAIL_{} for every city instead",
                    key.to_uppercase()
                )
            } else {
                format!("`{key}` is not a city key (known: id, name, bbox, timezone, currency, route_factor, avg_speed_kmh, pickup_pin, tariff, match_mode, match_strategy, batch_window_ms, batch_candidates, offer_timeout_secs, search_radius_km, max_search_radius_km, match_deadline_secs)")
            });
        }
        let slug = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if self.id.is_empty() || self.id.len() > 32 || !self.id.chars().all(slug) {
            return Err("`id` must be 1 to 32 of a-z, 0-9 and -".into());
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("`name` must be 1 to 100 characters".into());
        }
        let [min_lat, min_lng, max_lat, max_lng] = self.bbox;
        let lat_ok = |v: f64| v.is_finite() && v.abs() <= MAX_GEO_LAT;
        let lng_ok = |v: f64| v.is_finite() && v.abs() <= 180.0;
        if !(lat_ok(min_lat) && lat_ok(max_lat) && lng_ok(min_lng) && lng_ok(max_lng)) {
            return Err(
                "`bbox` latitudes must be within ±85.05112878 and longitudes within ±180".into(),
            );
        }
        if min_lat >= max_lat || min_lng >= max_lng {
            return Err(
                "`bbox` is [min_lat, min_lng, max_lat, max_lng]: each min below its max".into(),
            );
        }
        let timezone = match self.timezone {
            None => chrono_tz::Asia::Singapore,
            Some(name) => name.parse().map_err(|_| {
                format!("`timezone` {name:?} is not an IANA time zone (e.g. `Asia/Jakarta`)")
            })?,
        };
        let currency = self.currency.unwrap_or_else(|| "SGD".into());
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "`currency` {currency:?} must be an ISO 4217 code like `IDR`"
            ));
        }
        let route_factor = self.route_factor.unwrap_or(1.3);
        if !(route_factor.is_finite() && (1.0..=5.0).contains(&route_factor)) {
            return Err("`route_factor` must be between 1 and 5".into());
        }
        let avg_speed_kmh = self.avg_speed_kmh.unwrap_or(30.0);
        if !(avg_speed_kmh.is_finite() && avg_speed_kmh > 0.0 && avg_speed_kmh <= 200.0) {
            return Err("`avg_speed_kmh` must be above 0 and at most 200".into());
        }
        let tariff = match self.tariff {
            None => Tariff::DEFAULT,
            Some(raw) => raw.check()?,
        };
        let match_mode = match self.match_mode.as_deref() {
            None => None,
            Some("offer") => Some(crate::config::MatchMode::Offer),
            Some("auto") => Some(crate::config::MatchMode::Auto),
            Some(other) => {
                return Err(format!(
                    "`match_mode` {other:?} is not known: use \"offer\" or \"auto\""
                ))
            }
        };
        let match_strategy = match self.match_strategy.as_deref() {
            None => None,
            Some(raw) => Some(crate::config::MatchStrategy::parse(raw).ok_or_else(|| {
                format!("`match_strategy` {raw:?} is not known: use \"greedy\" or \"batched\"")
            })?),
        };
        let window = &crate::config::BATCH_WINDOW_MS;
        if let Some(ms) = self.batch_window_ms.filter(|ms| !window.contains(ms)) {
            return Err(format!(
                "`batch_window_ms` {ms} must be from {} to {}",
                window.start(),
                window.end()
            ));
        }
        let candidates = &crate::config::BATCH_CANDIDATES;
        if let Some(k) = self.batch_candidates.filter(|k| !candidates.contains(k)) {
            return Err(format!(
                "`batch_candidates` {k} must be from {} to {}",
                candidates.start(),
                candidates.end()
            ));
        }
        let positive = |key: &str, value: Option<f64>| match value {
            Some(v) if !(v.is_finite() && v > 0.0) => {
                Err(format!("`{key}` must be a positive number"))
            }
            _ => Ok(value),
        };
        let dispatch = CityDispatch {
            match_mode,
            match_strategy,
            batch_window_ms: self.batch_window_ms,
            batch_candidates: self.batch_candidates,
            offer_timeout_secs: positive("offer_timeout_secs", self.offer_timeout_secs)?,
            search_radius_km: positive("search_radius_km", self.search_radius_km)?,
            max_search_radius_km: positive("max_search_radius_km", self.max_search_radius_km)?,
            match_deadline_secs: positive("match_deadline_secs", self.match_deadline_secs)?,
        };
        Ok(City {
            id: self.id,
            name: name.to_string(),
            bbox: BBox {
                min_lat,
                min_lng,
                max_lat,
                max_lng,
            },
            timezone,
            currency,
            route_factor,
            avg_speed_kmh,
            pickup_pin: self.pickup_pin.unwrap_or(false),
            tariff,
            dispatch,
        })
    }
}

impl RawTariff {
    fn check(self) -> Result<Tariff, String> {
        let d = Tariff::DEFAULT;
        let amount = |key: &str, v: Option<f64>, default: i64| match v {
            None => Ok(default),
            Some(v) => hundredths(v).ok_or_else(|| {
                format!(
                    "`tariff.{key}` must be an amount from 0 to 1000000 with at most 2 decimals"
                )
            }),
        };
        let tariff = Tariff {
            base: amount("base", self.base, d.base)?,
            per_km: amount("per_km", self.per_km, d.per_km)?,
            per_min: amount("per_min", self.per_min, d.per_min)?,
            minimum: amount("minimum", self.minimum, d.minimum)?,
            premium_multiplier: amount(
                "premium_multiplier",
                self.premium_multiplier,
                d.premium_multiplier,
            )?,
        };
        if tariff.premium_multiplier < 100 {
            return Err("`tariff.premium_multiplier` must be at least 1".into());
        }
        Ok(tariff)
    }
}

/// `v` in hundredths, if it is a finite amount in [0, 1,000,000] with at
/// most two decimals.
fn hundredths(v: f64) -> Option<i64> {
    if !v.is_finite() || !(0.0..=1_000_000.0).contains(&v) {
        return None;
    }
    let scaled = v * 100.0;
    let rounded = scaled.round();
    ((scaled - rounded).abs() < 1e-6).then_some(rounded as i64)
}

#[cfg(test)]
mod tests;
