pub mod abuse;
pub mod assignment;
pub mod dispatch;
pub mod lifecycle;
pub mod rooms;
