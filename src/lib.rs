//! The `hail` binary's library half: starting Hail's services together (as
//! `hail serve all` does and as the tests do), and the bench tool.

pub mod bench;
pub mod stack;
