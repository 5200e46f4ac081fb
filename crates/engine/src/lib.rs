//! tidewatch-engine
