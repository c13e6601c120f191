//! The `hail` binary's library half: starting Hail's services together, as
//! `hail serve all` does and as the tests do.

pub mod stack;
