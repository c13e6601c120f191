//! Drivers selecting at once: exactly one wins a rider, and the room stays
//! whole under a storm of selections.

use std::{collections::HashSet, sync::Arc};

use hail_shared::api::rooms::RoomState;
use tokio::task::JoinSet;

use super::*;
use crate::helpers::*;

/// Two drivers select the same rider at the same instant, many times over:
/// exactly one wins, seats never go below zero, no rider is in two places.
#[tokio::test]
async fn two_drivers_selecting_one_rider_exactly_one_wins() {
    let app = Arc::new(spawn_app().await);
    for round in 0..15 {
        let key = format!("Race{round}:tue:07:30");
        let rider = app.register_rider().await;
        let drivers = [app.register_driver().await, app.register_driver().await];
        let path = |rest: &str| room_path(&key, rest);
        for d in &drivers {
            let r = app
                .post(&path("/drivers"), Some(&d.token), &json!({"seats": 1}))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        assert_eq!(
            app.post(&path("/riders"), Some(&rider.token), &json!({}))
                .await
                .status(),
            StatusCode::OK
        );

        let mut set = JoinSet::new();
        for d in drivers.clone() {
            let (app, url, body) = (app.clone(), path("/select"), json!({"rider_id": rider.id}));
            set.spawn(async move { app.post(&url, Some(&d.token), &body).await.status() });
        }
        let mut statuses: Vec<StatusCode> = set.join_all().await;
        statuses.sort();
        assert_eq!(
            statuses,
            vec![StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );

        let room: RoomState = app
            .get(&path(""), Some(&rider.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(room.pending.len(), 1);
        assert!(room.riders_waiting.is_empty());
        let seats: u32 = room.drivers.iter().map(|d| u32::from(d.seats_left)).sum();
        assert_eq!(seats, 1, "one seat held, one free");
    }
}

/// Many drivers and riders all selecting at once: the room stays whole.
#[tokio::test]
async fn a_selection_storm_keeps_every_rider_in_one_place() {
    let app = Arc::new(spawn_app().await);
    let mut drivers = Vec::new();
    for _ in 0..5 {
        let d = app.register_driver().await;
        join_driver(&app, &d, 2).await;
        drivers.push(d);
    }
    let mut riders = Vec::new();
    for _ in 0..8 {
        let r = app.register_rider().await;
        join_rider(&app, &r).await;
        riders.push(r);
    }
    let mut set = JoinSet::new();
    for d in &drivers {
        for r in &riders {
            let (app, d, r) = (app.clone(), d.clone(), r.clone());
            set.spawn(async move {
                let status = select(&app, &d, &r).await.status();
                if status == StatusCode::OK {
                    respond(&app, &r, true).await.status()
                } else {
                    status
                }
            });
        }
    }
    for status in set.join_all().await {
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "{status}"
        );
    }
    let room = state(&app, &drivers[0]).await;
    let mut seen = HashSet::new();
    let placed = room
        .riders_waiting
        .iter()
        .chain(room.pending.iter().map(|p| &p.rider_id))
        .chain(room.rides.iter().map(|r| &r.rider_id));
    for rider in placed {
        assert!(seen.insert(*rider), "rider {rider} is in two places");
    }
    assert_eq!(seen.len(), riders.len(), "every rider is somewhere");
    for d in &room.drivers {
        let used = room
            .pending
            .iter()
            .filter(|p| p.driver_id == d.driver_id)
            .count()
            + room
                .rides
                .iter()
                .filter(|r| r.driver_id == d.driver_id)
                .count();
        assert_eq!(
            usize::from(d.seats_left) + used,
            2,
            "driver {}",
            d.driver_id
        );
    }
    assert_eq!(
        room.rides.len() + room.pending.len(),
        8,
        "10 seats, 8 riders: all seated"
    );
}
