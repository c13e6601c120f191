//! A driver's steps and its city's index are separate scripts (they live in
//! different slots of a Redis Cluster): the index must still end as the
//! newest step of the driver says, whatever order the index steps land in.

use std::sync::Arc;

use hail_driver::index::{Index, Stamp};
use hail_shared::keys::Keys;
use redis::AsyncCommands;

use crate::helpers::*;

fn index_of(app: &TestApp) -> (Index, Keys) {
    let keys = Keys::new(app.config.redis_prefix.clone());
    (
        Index::new(keys.clone(), Arc::clone(&app.config.cities)),
        keys,
    )
}

async fn indexed(app: &TestApp, keys: &Keys, driver: &Account) -> bool {
    let mut redis = app.redis().await;
    let score: Option<f64> = redis
        .zscore(keys.driver_locations("sg"), driver.id.to_string())
        .await
        .unwrap();
    score.is_some()
}

#[tokio::test]
async fn a_late_index_step_never_undoes_a_newer_one() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP).await;
    let (index, keys) = index_of(&app);
    let mut redis = app.redis().await;
    let seq: String = redis
        .hget(keys.driver_position(driver.id), "seq")
        .await
        .unwrap();
    let seq: u64 = seq.parse().unwrap();
    assert!(indexed(&app, &keys, &driver).await);

    // A step older than the ping that indexed the driver says "drop": late.
    let stale = |seq: u64, matchable: bool| Stamp {
        seq: seq.to_string(),
        city: Some("sg".into()),
        matchable,
        lng: PICKUP.lng.to_string(),
        lat: PICKUP.lat.to_string(),
    };
    index
        .sync(&mut redis, driver.id, &stale(seq - 1, false))
        .await
        .unwrap();
    assert!(
        indexed(&app, &keys, &driver).await,
        "an older drop undid the ping"
    );

    // Claimed now (its own step drops it), then an "add" stamped before the
    // claim lands: the claimed driver stays out.
    let trip_id = uuid::Uuid::new_v4();
    let claim = json!({"claims": [{"trip_id": trip_id, "city": "sg", "drivers": [driver.id]}], "ttl_secs": 30});
    let response = internal(&app, "/internal/drivers/claims", Peer::Trip, &claim).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !indexed(&app, &keys, &driver).await,
        "a claimed driver is indexed"
    );
    index
        .sync(&mut redis, driver.id, &stale(seq + 1, true))
        .await
        .unwrap();
    assert!(
        !indexed(&app, &keys, &driver).await,
        "an older add undid the claim"
    );
}

#[tokio::test]
async fn pings_racing_a_driver_going_offline_never_leave_it_indexed() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP).await;
    let keys = Keys::new(app.config.redis_prefix.clone());
    for round in 0..20 {
        assert_eq!(
            set_status(&app, &driver, "online").await.status(),
            StatusCode::OK
        );
        let ping = |i: u32| {
            let at = PICKUP.north(0.01 * f64::from(i));
            locate(&app, &driver, json!({"lat": at.lat, "lng": at.lng}))
        };
        let (offline, _, _, _, _) = tokio::join!(
            set_status(&app, &driver, "offline"),
            ping(1),
            ping(2),
            ping(3),
            ping(4)
        );
        assert_eq!(offline.status(), StatusCode::OK);
        assert!(
            !indexed(&app, &keys, &driver).await,
            "round {round}: an OFFLINE driver is in the index"
        );
    }
}

/// A won claim takes the driver out of its city's index, stamped as the
/// driver's newest step (on a single Redis by the claim script itself, on a
/// cluster by the index step after it), and a lost one changes nothing.
#[tokio::test]
async fn a_won_claim_leaves_the_index_stamped_as_the_newest_step() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP).await;
    let (index, keys) = index_of(&app);
    let mut redis = app.redis().await;
    assert!(indexed(&app, &keys, &driver).await);
    let wish = |trip_id| hail_shared::api::drivers::ClaimWish {
        trip_id,
        city: "sg".into(),
        drivers: vec![driver.id],
    };

    let won = index
        .claim_first(&mut redis, &[wish(uuid::Uuid::new_v4())], 30)
        .await
        .unwrap();
    assert_eq!(won, [Some(driver.id)]);
    assert!(
        !indexed(&app, &keys, &driver).await,
        "a claimed driver stayed in its city's index"
    );
    let newest: String = redis
        .hget(keys.driver_position(driver.id), "seq")
        .await
        .unwrap();
    let heard: Option<f64> = redis
        .zscore(keys.drivers_seen("sg"), driver.id.to_string())
        .await
        .unwrap();
    assert_eq!(heard, Some(newest.parse::<f64>().unwrap()));

    let lost = index
        .claim_first(&mut redis, &[wish(uuid::Uuid::new_v4())], 30)
        .await
        .unwrap();
    assert_eq!(lost, [None]);
    let after: String = redis
        .hget(keys.driver_position(driver.id), "seq")
        .await
        .unwrap();
    assert_eq!(after, newest, "a lost claim stamped the driver");
}

/// A gateway's batch writes its city's index in one script for many
/// drivers (`Index::sync_many`), by the same rule as one at a time: each
/// stamp applies only if newer than the last the city heard of its driver,
/// also when one call carries two stamps of the same driver.
#[tokio::test]
async fn one_index_write_for_many_drivers_applies_each_stamp_by_its_age() {
    let app = spawn_app().await;
    let first = online_at(&app, PICKUP).await;
    let second = online_at(&app, PICKUP.north(0.2)).await;
    let third = online_at(&app, PICKUP.north(0.4)).await;
    let (index, keys) = index_of(&app);
    let mut redis = app.redis().await;
    let seq_of = |driver: uuid::Uuid| {
        let mut redis = redis.clone();
        let key = keys.driver_position(driver);
        async move {
            let seq: String = redis.hget(key, "seq").await.unwrap();
            seq.parse::<u64>().unwrap()
        }
    };
    let stamp = |seq: u64| Stamp {
        seq: seq.to_string(),
        city: Some("sg".into()),
        matchable: false,
        lng: PICKUP.lng.to_string(),
        lat: PICKUP.lat.to_string(),
    };
    let (s1, s2, s3) = (
        seq_of(first.id).await,
        seq_of(second.id).await,
        seq_of(third.id).await,
    );
    let newer_drop = stamp(s1 + 10);
    let stale_drop = stamp(s2 - 1);
    let newest_drop = stamp(s3 + 20);
    let older_add = Stamp {
        matchable: true,
        ..stamp(s3 + 10)
    };
    let applied = index
        .sync_many(
            &mut redis,
            "sg",
            &[
                (first.id, &newer_drop, false),
                (second.id, &stale_drop, false),
                (third.id, &newest_drop, false),
                (third.id, &older_add, true),
            ],
        )
        .await
        .unwrap();
    assert_eq!(applied, 2, "the newer drops, and nothing else");
    assert!(!indexed(&app, &keys, &first).await, "a newer drop was lost");
    assert!(
        indexed(&app, &keys, &second).await,
        "a stale drop undid a ping"
    );
    assert!(
        !indexed(&app, &keys, &third).await,
        "an older add in the same call undid a newer drop"
    );
}
