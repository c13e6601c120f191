pub mod paths;
pub mod routing;
