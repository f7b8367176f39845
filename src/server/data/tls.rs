//! RTMPS's TLS configuration: the `[tls]` certificate chain and key, loaded once at
//! start (rustls on aws-lc-rs; TLS 1.2 and 1.3).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::server::error::ServerError;
use crate::server::settings::TlsSettings;

/// The acceptor of RTMPS connections, from `[tls]`.
pub fn acceptor(settings: &TlsSettings) -> Result<TlsAcceptor, ServerError> {
    let (Some(cert_file), Some(key_file)) = (&settings.cert_file, &settings.key_file) else {
        return Err(ServerError::Config(
            "[tls] needs cert_file and key_file".into(),
        ));
    };
    let chain = certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| ServerError::Config(format!("[tls] key_file {}: {e}", key_file.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Config(format!("[tls]: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Config(format!("[tls]: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let bad = |e: &dyn std::fmt::Display| {
        ServerError::Config(format!("[tls] cert_file {}: {e}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if chain.is_empty() {
        return Err(bad(&"no certificate in the file"));
    }
    Ok(chain)
}
