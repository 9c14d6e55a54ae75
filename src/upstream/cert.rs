//! The validity end of an https upstream's certificate, read from the DER rustls received.

use x509_parser::parse_x509_certificate;

/// The leaf certificate's notAfter in unix seconds; `None` when the DER does not parse (the
/// server sent it, so it may be anything).
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(b"\x30\x82\xff\xffnot a certificate"), None);
        assert_eq!(not_after(&[0x30; 4096]), None);
    }

    #[test]
    fn reads_the_not_after_of_a_real_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into()]).expect("certificate params");
        params.not_before = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        params.not_after = time::OffsetDateTime::from_unix_timestamp(1_800_000_042).expect("time");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("certificate");
        assert_eq!(not_after(cert.der()), Some(1_800_000_042));
    }
}
