pub mod dispatch;
pub mod lifecycle;
