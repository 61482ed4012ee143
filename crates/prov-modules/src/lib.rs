//! prov-modules
