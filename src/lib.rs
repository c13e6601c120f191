//! The `hail` binary's library half: starting Hail's services together (as
//! `hail serve all` does and as the tests do), the bench tool, the simulator
//! and the Socket.IO client they share.

pub mod bench;
pub mod simulate;
pub mod socketio;
pub mod stack;
