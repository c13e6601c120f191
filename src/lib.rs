//! The `hail` binary's library half: starting Hail's services together (as
//! `hail serve all` does and as the tests do), the bench tool and the simulator.

pub mod bench;
pub mod simulate;
pub mod stack;
