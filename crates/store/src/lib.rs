//! tidewatch-store
