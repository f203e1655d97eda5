//! Daily item sales per store, closed by event time. Small on purpose: it is the README's worked
//! example of a processor, one module registered with one line in `app/src/registry.rs`.

pub mod daily_sales;

pub use daily_sales::DailySales;
