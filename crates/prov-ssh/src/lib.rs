//! prov-ssh
