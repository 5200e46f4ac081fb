//! tidewatch-ingest
