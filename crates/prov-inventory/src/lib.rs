//! prov-inventory
