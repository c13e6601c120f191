use proptest::prelude::*;

use super::*;

const EXAMPLE: &str = include_str!("../../../cities.example.toml");

fn cities(text: &str) -> Cities {
    Cities::from_toml(text, "test.toml").unwrap()
}

fn error(text: &str) -> String {
    Cities::from_toml(text, "test.toml").unwrap_err().0
}

fn one_city(extra: &str) -> String {
    format!("[[city]]\nid = \"x\"\nname = \"X\"\nbbox = [1.0, 2.0, 3.0, 4.0]\n{extra}")
}

#[test]
fn without_a_file_hail_serves_singapore_alone() {
    let c = Cities::builtin();
    assert_eq!(c.all().len(), 1);
    let sg = c
        .at(LatLng {
            lat: 1.3048,
            lng: 103.8318,
        })
        .unwrap();
    assert_eq!(sg.id, "sg");
    assert_eq!(sg.timezone, chrono_tz::Asia::Singapore);
    assert_eq!(sg.tariff, Tariff::DEFAULT);
    assert_eq!(c.default_city().id, "sg");
    assert!(c.at(LatLng { lat: 0.0, lng: 0.0 }).is_none());
    // Just outside the box's west edge.
    assert!(c
        .at(LatLng {
            lat: 1.3,
            lng: 103.6848
        })
        .is_none());
}

#[test]
fn the_example_file_has_three_real_cities_each_finding_its_own_points() {
    let c = cities(EXAMPLE);
    let ids: Vec<&str> = c.all().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["sg", "jakarta", "hcmc"]);
    // Monas, Jakarta; Ben Thanh market, Ho Chi Minh City; Orchard Road.
    let at = |lat, lng| c.at(LatLng { lat, lng }).map(|c| c.id.as_str());
    assert_eq!(at(-6.1754, 106.8272), Some("jakarta"));
    assert_eq!(at(10.7725, 106.6980), Some("hcmc"));
    assert_eq!(at(1.3048, 103.8318), Some("sg"));
    assert_eq!(
        at(13.7563, 100.5018),
        None,
        "Bangkok is no city of the file"
    );
    let jakarta = c.get("jakarta").unwrap();
    assert_eq!(jakarta.timezone, chrono_tz::Asia::Jakarta);
    assert_eq!(jakarta.currency, "IDR");
    assert_eq!(jakarta.tariff.base, 1_000_000);
    assert_eq!(jakarta.tariff.premium_multiplier, 160);
    assert_eq!(jakarta.dispatch.offer_timeout_secs, Some(20.0));
    assert_eq!(jakarta.dispatch.search_radius_km, Some(2.0));
    assert_eq!(c.get("sg").unwrap().dispatch, CityDispatch::default());
    assert_eq!(
        jakarta.summary(),
        CitySummary {
            id: "jakarta".into(),
            name: "Jakarta".into(),
            bbox: [-6.45, 106.65, -6.05, 107.05],
            timezone: "Asia/Jakarta".into(),
            currency: "IDR".into(),
        }
    );
}

#[test]
fn a_room_key_may_name_its_city_and_the_default_city_has_one_spelling() {
    let c = cities(EXAMPLE);
    let city = |key| {
        c.room_city(key)
            .map(|(city, rest)| (city.map(|c| c.id.as_str()), rest))
    };
    assert_eq!(city("Westie:mon:08:00"), Ok((None, "Westie:mon:08:00")));
    assert_eq!(city("sg.Westie:mon:08:00"), Ok((None, "Westie:mon:08:00")));
    assert_eq!(
        city("jakarta.Monas:fri:17:30"),
        Ok((Some("jakarta"), "Monas:fri:17:30"))
    );
    let unknown = city("paris.Louvre:mon:08:00").unwrap_err();
    assert!(
        unknown.contains("\"paris\"") && unknown.contains("/api/v1/cities"),
        "{unknown}"
    );
    // A dot after the origin is no city (the key's own check refuses it).
    assert_eq!(city("Westie:mon:08.00"), Ok((None, "Westie:mon:08.00")));
    assert_eq!(
        c.canonical_room_key("sg.Westie:mon:08:00"),
        "Westie:mon:08:00"
    );
    assert_eq!(
        c.canonical_room_key("hcmc.BenThanh:sat:09:15"),
        "hcmc.BenThanh:sat:09:15"
    );
    assert_eq!(c.canonical_room_key("x.y:mon:08:00"), "x.y:mon:08:00");
}

#[test]
fn keys_left_out_take_singapore_s_defaults() {
    let c = cities(&one_city(""));
    let x = c.get("x").unwrap();
    assert_eq!(x.timezone, chrono_tz::Asia::Singapore);
    assert_eq!(x.currency, "SGD");
    assert_eq!(x.route_factor, 1.3);
    assert_eq!(x.avg_speed_kmh, 30.0);
    assert!(!x.pickup_pin);
    assert_eq!(x.tariff, Tariff::DEFAULT);
}

#[test]
fn a_city_may_set_its_own_dispatch_settings() {
    let c = cities(&one_city(
        "match_mode = \"auto\"\nmatch_strategy = \"batched\"\nbatch_window_ms = 1500\n\
         batch_candidates = 6\noffer_timeout_secs = 8\n\
         search_radius_km = 1.5\nmax_search_radius_km = 4\nmatch_deadline_secs = 30",
    ));
    assert_eq!(
        c.all()[0].dispatch,
        CityDispatch {
            match_mode: Some(crate::config::MatchMode::Auto),
            match_strategy: Some(crate::config::MatchStrategy::Batched),
            batch_window_ms: Some(1500),
            batch_candidates: Some(6),
            offer_timeout_secs: Some(8.0),
            search_radius_km: Some(1.5),
            max_search_radius_km: Some(4.0),
            match_deadline_secs: Some(30.0),
        }
    );
    // Unset: the global value, from the config.
    assert_eq!(
        cities(&one_city("")).all()[0].dispatch,
        CityDispatch::default()
    );
}

#[test]
fn overlapping_cities_give_a_point_to_the_first() {
    let text = "[[city]]\nid = \"a\"\nname = \"A\"\nbbox = [0.0, 0.0, 2.0, 2.0]\n\
                [[city]]\nid = \"b\"\nname = \"B\"\nbbox = [1.0, 1.0, 3.0, 3.0]\n";
    let c = cities(text);
    assert_eq!(c.at(LatLng { lat: 1.5, lng: 1.5 }).unwrap().id, "a");
    assert_eq!(c.at(LatLng { lat: 2.5, lng: 2.5 }).unwrap().id, "b");
}

#[test]
fn every_mistake_is_refused_with_the_city_and_the_key_to_fix() {
    let cases: &[(String, &str)] = &[
        (String::new(), "no city"),
        ("[[city]]\nid = \"x\"\n".into(), "not a cities file"),
        (one_city("").replace("\"x\"", "\"Not A Slug\""), "`id`"),
        (
            one_city("").replace("name = \"X\"", "name = \"  \""),
            "`name`",
        ),
        (
            one_city("").replace("[1.0, 2.0, 3.0, 4.0]", "[3.0, 2.0, 1.0, 4.0]"),
            "`bbox`",
        ),
        (
            one_city("").replace("[1.0, 2.0, 3.0, 4.0]", "[1.0, 2.0, 89.0, 4.0]"),
            "`bbox`",
        ),
        (one_city("timezone = \"Mars/Olympus\""), "`timezone`"),
        (one_city("currency = \"dollars\""), "`currency`"),
        (one_city("route_factor = 0.5"), "`route_factor`"),
        (one_city("avg_speed_kmh = -3"), "`avg_speed_kmh`"),
        (
            one_city("candidate_overfetch = 5"),
            "HAIL_CANDIDATE_OVERFETCH",
        ),
        (one_city("batch_window_ms = 50"), "`batch_window_ms`"),
        (one_city("batch_window_ms = -1"), "batch_window_ms"),
        (one_city("batch_candidates = 0"), "`batch_candidates`"),
        (one_city("batch_candidates = 51"), "`batch_candidates`"),
        (one_city("match_strategy = \"best\""), "`match_strategy`"),
        (one_city("match_mode = \"manual\""), "`match_mode`"),
        (one_city("offer_timeout_secs = 0"), "`offer_timeout_secs`"),
        (one_city("search_radius_km = -1"), "`search_radius_km`"),
        (
            one_city("max_search_radius_km = nan"),
            "`max_search_radius_km`",
        ),
        (
            one_city("match_deadline_secs = -5"),
            "`match_deadline_secs`",
        ),
        (one_city("colour = \"red\""), "`colour` is not a city key"),
        (one_city("[city.tariff]\nbase = 1.005"), "`tariff.base`"),
        (one_city("[city.tariff]\nper_km = -1"), "`tariff.per_km`"),
        (
            one_city("[city.tariff]\npremium_multiplier = 0.5"),
            "premium_multiplier",
        ),
        (one_city("[city.tariff]\nsurge = 2"), "not a cities file"),
        (format!("{}\n{}", one_city(""), one_city("")), "unique"),
    ];
    for (text, expected) in cases {
        let err = error(text);
        assert!(err.starts_with("test.toml"), "{err}");
        assert!(
            err.contains(expected),
            "{text:?} gave {err:?}, wanted {expected:?}"
        );
    }
}

#[test]
fn amounts_keep_their_cents_exactly() {
    assert_eq!(hundredths(0.7), Some(70));
    assert_eq!(hundredths(3.0), Some(300));
    assert_eq!(hundredths(0.29), Some(29));
    assert_eq!(hundredths(1.005), None);
    assert_eq!(hundredths(f64::NAN), None);
    assert_eq!(hundredths(-0.01), None);
}

fn bbox() -> impl Strategy<Value = BBox> {
    (-80.0f64..80.0, -170.0f64..170.0, 0.01f64..5.0, 0.01f64..5.0).prop_map(
        |(lat, lng, dlat, dlng)| BBox {
            min_lat: lat,
            min_lng: lng,
            max_lat: lat + dlat,
            max_lng: lng + dlng,
        },
    )
}

#[test]
fn the_built_in_city_is_about_30_km_square() {
    let km2 = SINGAPORE_BBOX.area_km2();
    assert!((880.0..=910.0).contains(&km2), "{km2}");
}

proptest! {
    /// Whatever the cities and the point: a city found holds the point and
    /// no earlier city does; no city found means none holds it.
    #[test]
    fn a_point_belongs_to_the_first_city_that_holds_it(
        boxes in prop::collection::vec(bbox(), 1..6),
        lat in -85.0f64..85.0,
        lng in -179.0f64..179.0,
        near in prop::option::of(0usize..6),
    ) {
        let mut c = Cities::builtin();
        c.0 = boxes.iter().enumerate().map(|(k, b)| City {
            id: format!("c{k}"),
            bbox: *b,
            ..Cities::builtin().default_city().clone()
        }).collect();
        // Half the time, a point inside one of the boxes.
        let p = match near {
            Some(k) if k < boxes.len() => LatLng {
                lat: (boxes[k].min_lat + boxes[k].max_lat) / 2.0,
                lng: (boxes[k].min_lng + boxes[k].max_lng) / 2.0,
            },
            _ => LatLng { lat, lng },
        };
        let holds = |b: &BBox| b.min_lat <= p.lat && p.lat <= b.max_lat
            && b.min_lng <= p.lng && p.lng <= b.max_lng;
        match c.at(p) {
            Some(city) => {
                let k: usize = city.id[1..].parse().unwrap();
                prop_assert!(holds(&boxes[k]));
                prop_assert!(!boxes[..k].iter().any(holds));
            }
            None => prop_assert!(!boxes.iter().any(holds)),
        }
    }

    /// Any whole number of cents written with two decimals reads back exactly.
    #[test]
    fn any_amount_with_two_decimals_reads_back_to_the_cent(cents in 0i64..100_000_000) {
        let text = format!("{}.{:02}", cents / 100, cents % 100);
        let v: f64 = text.parse().unwrap();
        prop_assert_eq!(hundredths(v), Some(cents));
    }
}
