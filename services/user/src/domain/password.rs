//! Argon2id password hashing (the argon2 crate's defaults: m = 19 MiB, t = 2,
//! p = 1, as OWASP recommends). CPU-bound: callers run these on the blocking
//! pool, each with a [`Memory`] of its own.
//!
//! The 19 MiB of working memory is allocated once per worker and reused:
//! allocating and freeing it per hash made glibc keep the freed blocks (its
//! mmap threshold grows to fit them), and a burst of 1,400 sign-ups left the
//! user service at 1.3 GiB.

use std::sync::OnceLock;

use argon2::{
    password_hash::{Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};

pub type Error = argon2::password_hash::Error;

/// Argon2's working memory, kept between hashes.
pub struct Memory(Vec<Block>);

impl Memory {
    pub fn new() -> Self {
        Self(vec![Block::default(); Params::DEFAULT_M_COST as usize])
    }

    /// Enough blocks for `params`: ours, or a temporary larger one for a
    /// hash stored with a bigger memory cost.
    fn run(
        &mut self,
        params: &Params,
        work: impl FnOnce(&mut [Block]) -> Result<(), argon2::Error>,
    ) -> Result<(), Error> {
        let needed = params.block_count();
        if needed <= self.0.len() {
            work(&mut self.0[..needed])
        } else {
            work(&mut vec![Block::default(); needed])
        }
        .map_err(Error::from)
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

/// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), the
/// same format the argon2 crate's own `hash_password` writes.
pub fn hash(password: &str, memory: &mut Memory) -> Result<String, Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let params = Params::default();
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    memory.run(&params, |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str, memory: &mut Memory) -> bool {
    let mut check = || -> Result<bool, Error> {
        let parsed = PasswordHash::new(stored)?;
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        memory.run(&params, |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
        })?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out)? == expected)
    };
    check().unwrap_or(false)
}

/// Spends the same time as a real check when the email is unknown, so the
/// answer's timing does not reveal which emails have accounts.
pub fn verify_against_dummy(password: &str, memory: &mut Memory) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY
        .get_or_init(|| hash("dummy-password-for-timing", &mut Memory::new()).unwrap_or_default());
    let _ = verify(password, dummy, memory);
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn a_hash_verifies_only_its_password() {
        let memory = &mut Memory::new();
        let stored = hash("correct horse", memory).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse", &stored, memory));
        assert!(!verify("correct horsE", &stored, memory));
        assert!(!verify("correct horse", "not a hash", memory));
    }

    #[test]
    fn the_same_password_gets_a_new_salt() {
        let memory = &mut Memory::new();
        assert_ne!(hash("same", memory).unwrap(), hash("same", memory).unwrap());
    }

    /// Hashes stored before the memory was reused, or by any other Argon2
    /// library, still verify, and ours verify with the argon2 crate.
    #[test]
    fn hashes_are_interchangeable_with_the_argon2_crate() {
        let memory = &mut Memory::new();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = Argon2::default()
            .hash_password(b"s3cret pass", &salt)
            .unwrap()
            .to_string();
        assert!(verify("s3cret pass", &theirs, memory));
        assert!(!verify("s3cret pasS", &theirs, memory));
        let ours = hash("s3cret pass", memory).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"s3cret pass", &parsed)
            .is_ok());
        // A stored hash with a bigger memory cost than ours still verifies.
        let bigger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(Params::DEFAULT_M_COST * 2, 1, 1, None).unwrap(),
        )
        .hash_password(b"big", &salt)
        .unwrap()
        .to_string();
        assert!(verify("big", &bigger, memory));
    }
}
