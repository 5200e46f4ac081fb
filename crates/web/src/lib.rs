//! tidewatch-web
