//! prov-exec
