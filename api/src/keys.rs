//! Key material from the configuration: the personal-data vault, and the secrets that a local
//! installation generates for itself.
//!
//! For local use only, a secret that is not configured (`LVYUE_JWT_SECRET`, `LVYUE_PII_KEY`)
//! is generated on first use and kept in the data directory with mode 0600, so every `lvyue`
//! command on the same data directory agrees. Production sets them from its secret store: a
//! lost `pii-key` file makes the personal data in the database unreadable.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};

use lvyue_domain::pii::PiiVault;

use crate::config::{Config, Secret};

/// Bytes of entropy in a generated secret (written as 64 hex characters).
const GENERATED_SECRET_BYTES: usize = 32;
/// The file in the data directory holding the generated personal-data master key.
pub const PII_KEY_FILE: &str = "pii-key";
/// Most encryption keys `LVYUE_PII_ENCRYPTION_KEYS` may list (current plus previous).
const MAX_PII_KEYS: usize = 16;

/// The secret kept in `data_dir/file`, generated (32 random bytes as hex, mode 0600) if the
/// file does not exist.
///
/// # Errors
/// The file cannot be created or read, or is readable by other users.
pub fn local_secret(data_dir: &Path, file: &str) -> anyhow::Result<Secret> {
    let path = data_dir.join(file);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut f) => {
            let mut bytes = [0u8; GENERATED_SECRET_BYTES];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let secret = hex::encode(bytes);
            f.write_all(secret.as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::warn!(path = %path.display(), "generated a local secret: fine for local use, set it from a secret store in production");
            Ok(Secret::new(secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    bail!(
                        "{} is readable by other users; run `chmod 600` on it",
                        path.display()
                    );
                }
            }
            let secret = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Secret::new(secret.trim()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// 32 bytes from 64 hex characters.
fn key_bytes(hex_key: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(hex_key.trim()).ok().filter(|b| b.len() == 32);
    match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
        Some(k) => Ok(k),
        None => bail!("{what} must be 64 hex characters (32 bytes)"),
    }
}

/// The personal-data vault: the master key `LVYUE_PII_KEY` (or the local `pii-key` file)
/// derives the lookup-hash key and, unless `LVYUE_PII_ENCRYPTION_KEYS` lists them, the
/// encryption key. Rotation: set `LVYUE_PII_ENCRYPTION_KEYS=2:<hex>,1:<hex>` (the first
/// encrypts, all decrypt) and keep `LVYUE_PII_KEY` unchanged, since lookup hashes derive from it.
///
/// # Errors
/// Malformed keys, or an unreadable key file.
pub fn pii_vault(config: &Config) -> anyhow::Result<PiiVault> {
    let master = match &config.pii.master_key {
        Some(k) => k.clone(),
        None => local_secret(&config.data_dir, PII_KEY_FILE)?,
    };
    let master = key_bytes(master.expose(), "LVYUE_PII_KEY")?;
    let Some(list) = &config.pii.encryption_keys else {
        return Ok(PiiVault::single(master));
    };
    let mut keys = Vec::new();
    for item in list
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (id, key) = item
            .split_once(':')
            .context("LVYUE_PII_ENCRYPTION_KEYS entries are `<id>:<64 hex>`")?;
        let id: u8 = id
            .trim()
            .parse()
            .context("LVYUE_PII_ENCRYPTION_KEYS ids are numbers 0-255")?;
        if keys.iter().any(|(seen, _)| *seen == id) {
            bail!("LVYUE_PII_ENCRYPTION_KEYS lists key id {id} twice");
        }
        keys.push((id, key_bytes(key, "each LVYUE_PII_ENCRYPTION_KEYS key")?));
    }
    if keys.len() > MAX_PII_KEYS {
        bail!("LVYUE_PII_ENCRYPTION_KEYS lists more than {MAX_PII_KEYS} keys");
    }
    // A default installation encrypted under key 1 derived from the master key: unless the
    // list names its own key 1, that key keeps decrypting what was written before the rotation.
    if !keys.is_empty() && !keys.iter().any(|(id, _)| *id == 1) {
        keys.push((1, PiiVault::default_key(&master)));
    }
    let Some((current, previous)) = keys.split_first() else {
        bail!("LVYUE_PII_ENCRYPTION_KEYS is set but lists no key");
    };
    Ok(PiiVault::new(master, *current, previous))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_local_secret_is_generated_once_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = local_secret(dir.path(), "s").unwrap();
        assert_eq!(a.expose().len(), 64);
        assert_eq!(local_secret(dir.path(), "s").unwrap(), a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("s"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(dir.path().join("s"), std::fs::Permissions::from_mode(0o644))
                .unwrap();
            assert!(
                local_secret(dir.path(), "s").is_err(),
                "a world-readable secret is refused"
            );
        }
    }

    #[test]
    fn the_vault_takes_a_master_key_and_optional_rotation_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::new(dir.path());
        let v = pii_vault(&c).unwrap();
        let sealed = v.encrypt("320102199001011234").unwrap();
        assert_eq!(
            pii_vault(&c).unwrap().decrypt(&sealed).unwrap(),
            "320102199001011234",
            "the generated key is reused"
        );

        let k = |b: u8| hex::encode([b; 32]);
        c.pii.master_key = Some(Secret::new(k(1)));
        c.pii.encryption_keys = Some(Secret::new(format!("2:{},1:{}", k(2), k(3))));
        let v = pii_vault(&c).unwrap();
        assert!(v.encrypt("x").unwrap().starts_with("k2:"));

        for bad in [
            "",
            "2",
            "2:abc",
            &format!("x:{}", k(2)),
            &format!("2:{},2:{}", k(2), k(3)),
        ] {
            c.pii.encryption_keys = Some(Secret::new(bad));
            assert!(pii_vault(&c).is_err(), "{bad:?}");
        }
        c.pii.encryption_keys = None;
        c.pii.master_key = Some(Secret::new("short"));
        assert!(pii_vault(&c).is_err());
    }
}
