//! `hail bench`: fixed scenarios against a running stack, through its public
//! API only, each printing one markdown table.
//!
//! - `realtime`: driver ping to rider socket, idle sockets per gateway;
//! - `ingest`, `dispatch`, `redispatch`, `all`: a city of online drivers
//!   (10,000 by default), location ingest, request-to-offer (or, against a
//!   stack in auto mode, request-to-ASSIGNED), decline-to-next-offer, with
//!   correctness counters and the raw Redis ceiling of the same work;
//! - `dense`: the same city bench after filler drivers made the city dense
//!   (10 k, 100 k, 1 M), with the candidate search and Redis memory timed at
//!   each step and socket ingest (issue 16);
//! - `rush`: rush hour (issue 21): 100 requests/s with drivers who ignore,
//!   decline and accept, riders who cancel, and a hotspot where trips wait;
//! - `matching`: greedy against batched matching on one seeded rush hour
//!   (issue 18); it starts its own stacks, one per strategy;
//! - `delivery`: what unreachable phones cost riders, without and with
//!   delivery acks (issue 19); it starts its own stacks too.

mod city;
mod cpu;
mod delivery;
mod latency;
mod matching;
mod realtime;
mod rush;

pub use city::{city, dense, CityArgs, DenseArgs, Scenario};
pub use delivery::{delivery, DeliveryArgs};
pub use matching::{matching, MatchingArgs};
pub use realtime::{realtime, RealtimeArgs};
pub use rush::{rush, RushArgs};
