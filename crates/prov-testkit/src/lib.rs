//! prov-testkit
