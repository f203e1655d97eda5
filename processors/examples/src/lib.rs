//! Small processors that show how to write one; each is a single module, registered with one
//! line in `processors/app/src/registry.rs`.

pub mod daily_sales;

pub use daily_sales::DailySales;
