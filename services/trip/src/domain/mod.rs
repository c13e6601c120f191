pub mod abuse;
pub mod assignment;
pub mod dispatch;
pub mod fare;
pub mod lifecycle;
pub mod rooms;
