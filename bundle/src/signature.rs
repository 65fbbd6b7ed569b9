//! Optional authenticity of a bundle: `signature.json` beside bundle.json holds an HMAC-SHA256
//! of the exact bytes of bundle.json and of manifest.json, under a key only the exporting server
//! and the loader know. Written after manifest.json and before bundle.json, so a committed,
//! signed bundle always has its signature. A loader given keys refuses a bundle whose signature
//! is missing or does not match: whoever can write to S3 but lacks the key cannot forge a load.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The signature's file name, in the folder of bundle.json.
pub const SIGNATURE_FILE: &str = "signature.json";
/// The only algorithm there is.
pub const ALGORITHM: &str = "HMAC-SHA256";
/// Shorter keys are refused: HMAC-SHA256's strength needs 32 bytes of key.
pub const MIN_KEY_BYTES: usize = 32;

/// What signature.json holds (hex digests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub algorithm: String,
    /// Names the key without revealing it, so a loader with several keys (a rotation) can say
    /// which one it lacks.
    pub key_id: String,
    pub bundle: String,
    pub manifest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("a signing key must be at least {MIN_KEY_BYTES} bytes; this one has {0}")]
    ShortKey(usize),
    #[error("it is not signed ({SIGNATURE_FILE} is missing), and this loader requires signatures")]
    Unsigned,
    #[error("its {SIGNATURE_FILE} is not a signature: {0}")]
    Malformed(String),
    #[error("it is signed with key {0}, which this loader does not have")]
    UnknownKey(String),
    #[error("its {0} does not match its signature: it was changed after the export signed it")]
    Mismatch(&'static str),
}

/// A signing key, checked for length.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.id())
    }
}

impl SigningKey {
    pub fn new(bytes: &[u8]) -> Result<SigningKey, SignatureError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(SignatureError::ShortKey(bytes.len()));
        }
        Ok(SigningKey(bytes.to_vec()))
    }

    /// The first 8 bytes of SHA-256 over a fixed label and the key, in hex.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"pg2redshift signing key id\n");
        h.update(&self.0);
        hex::encode(&h.finalize()[..8])
    }

    /// The MAC of one document. The label keeps a manifest's MAC from passing as a bundle's.
    fn mac(&self, label: &str, bytes: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length; new_from_slice cannot fail for it.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(label.as_bytes());
        mac.update(b"\n");
        mac.update(bytes);
        mac
    }

    pub fn sign(&self, bundle_json: &[u8], manifest_json: &[u8]) -> Signature {
        Signature {
            algorithm: ALGORITHM.to_string(),
            key_id: self.id(),
            bundle: hex::encode(self.mac(crate::BUNDLE_FILE, bundle_json).finalize().into_bytes()),
            manifest: hex::encode(self.mac(crate::MANIFEST_FILE, manifest_json).finalize().into_bytes()),
        }
    }
}

impl Signature {
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

/// Checks a bundle's signature.json (None: there is none) against the exact bytes of its
/// bundle.json and manifest.json, with whichever of `keys` signed it.
pub fn verify(
    keys: &[SigningKey],
    signature_json: Option<&[u8]>,
    bundle_json: &[u8],
    manifest_json: &[u8],
) -> Result<(), SignatureError> {
    let body = signature_json.ok_or(SignatureError::Unsigned)?;
    let sig: Signature = serde_json::from_slice(body).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    if sig.algorithm != ALGORITHM {
        return Err(SignatureError::Malformed(format!("unknown algorithm {:?}", sig.algorithm)));
    }
    let key = keys.iter().find(|k| k.id() == sig.key_id).ok_or_else(|| SignatureError::UnknownKey(sig.key_id.clone()))?;
    let check = |label: &'static str, bytes: &[u8], hex_mac: &str| {
        let expected = hex::decode(hex_mac).map_err(|_| SignatureError::Malformed(format!("the {label} MAC is not hex")))?;
        // verify_slice compares in constant time.
        key.mac(label, bytes).verify_slice(&expected).map_err(|_| SignatureError::Mismatch(label))
    };
    check(crate::BUNDLE_FILE, bundle_json, &sig.bundle)?;
    check(crate::MANIFEST_FILE, manifest_json, &sig.manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> SigningKey {
        SigningKey::new(&[fill; 32]).unwrap()
    }

    #[test]
    fn a_signature_verifies_only_the_exact_bytes_with_its_key() {
        let (b, m) = (br#"{"export_id":"x"}"#.as_slice(), br#"{"entries":[]}"#.as_slice());
        let sig = key(1).sign(b, m);
        let body = sig.to_json().unwrap();
        assert_eq!(verify(&[key(1)], Some(body.as_bytes()), b, m), Ok(()));
        // A rotation: the loader holds the new key and the old one.
        assert_eq!(verify(&[key(2), key(1)], Some(body.as_bytes()), b, m), Ok(()));
        assert_eq!(verify(&[key(2)], Some(body.as_bytes()), b, m), Err(SignatureError::UnknownKey(key(1).id())));
        assert_eq!(verify(&[key(1)], Some(body.as_bytes()), br#"{"export_id":"y"}"#, m), Err(SignatureError::Mismatch("bundle.json")));
        assert_eq!(verify(&[key(1)], Some(body.as_bytes()), b, br#"{"entries":[1]}"#), Err(SignatureError::Mismatch("manifest.json")));
        assert_eq!(verify(&[key(1)], None, b, m), Err(SignatureError::Unsigned));
        // Swapping the two MACs does not pass: each is bound to its file's name.
        let swapped = Signature { bundle: sig.manifest.clone(), manifest: sig.bundle.clone(), ..sig.clone() };
        assert!(verify(&[key(1)], Some(swapped.to_json().unwrap().as_bytes()), m, b).is_err());
        // A forged signature with the right key id but no key.
        let forged = Signature { bundle: "00".repeat(32), ..sig };
        assert_eq!(verify(&[key(1)], Some(forged.to_json().unwrap().as_bytes()), b, m), Err(SignatureError::Mismatch("bundle.json")));
        assert!(matches!(verify(&[key(1)], Some(b"not json"), b, m), Err(SignatureError::Malformed(_))));
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(SigningKey::new(&[0; 31]).unwrap_err(), SignatureError::ShortKey(31));
        assert!(!format!("{:?}", key(7)).contains("7, 7"), "Debug shows the key id, never the key");
    }
}
