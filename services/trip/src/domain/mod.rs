pub mod abuse;
pub mod dispatch;
pub mod lifecycle;
pub mod rooms;
