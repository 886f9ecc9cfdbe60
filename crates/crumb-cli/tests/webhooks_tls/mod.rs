//! Certificates for the https webhook test, made by the `openssl` CLI (as a person would):
//! a CA, a server certificate for 127.0.0.1 it signs, and the rustls server settings of a
//! loopback receiver presenting it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA named `name` in `dir`: `name.pem` (certificate), `name.key`.
pub fn ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=Crumb test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// The rustls settings of a server for `127.0.0.1` whose certificate the CA `ca` (made by
/// [`ca`] in `dir`) signs.
pub fn server_config(dir: &Path, ca: &str) -> Arc<rustls::ServerConfig> {
    let leaf = format!("leaf-{ca}");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{leaf}.key"),
            "-out",
            &format!("{leaf}.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    let ext = dir.join(format!("{leaf}.ext"));
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        .expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{leaf}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{leaf}.pem"),
            "-extfile",
            &format!("{leaf}.ext"),
        ],
    );
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join(format!("{leaf}.pem")))
        .expect("leaf pem")
        .collect::<Result<_, _>>()
        .expect("leaf certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{leaf}.key"))).expect("leaf key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    Arc::new(cfg)
}
