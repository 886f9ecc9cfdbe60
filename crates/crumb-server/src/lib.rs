//! crumb-server
