//! RTMPS's TLS configuration: the `[tls]` certificate chain and key, loaded once at
//! start (rustls on aws-lc-rs; TLS 1.2 and 1.3; AES-128-GCM preferred).

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
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    // AES-128-GCM first, and the server's order decides: as safe as AES-256-GCM for a
    // live stream's life, and 10 rounds instead of 14 (decryption is RTMPS's own cost).
    provider.cipher_suites.sort_by_key(|s| {
        let aes_128 = format!("{:?}", s.suite()).contains("AES_128_GCM");
        (s.tls13().is_none(), !aes_128)
    });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Config(format!("[tls]: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Config(format!("[tls]: {e}")))?;
    config.ignore_client_order = true;
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
