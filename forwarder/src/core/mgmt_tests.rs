//! Management tests.
