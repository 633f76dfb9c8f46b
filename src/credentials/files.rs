//! The permission policy of credentials files, and the one function that reads them.
//!
//! - cdnsync's own `credentials_file`: mode 0600 or stricter, owned by this user (or root). The
//!   README tells users to make it so; nothing rewrites it behind their back.
//! - Files tccli or the SDK write (`~/.tccli/*.credential`, `~/.tencentcloud/credentials`,
//!   `/etc/tencentcloud/credentials`): tccli writes them 0644 and rewrites them 0644 on every
//!   `tccli configure set`, so a file others can *read* gets a warning, not a refusal. One others
//!   can *write*, or owned by another user than this one or root, is refused: someone else could
//!   swap the keys for their own and read what cdnsync purges, or make it purge on their account.
//!
//! [`judge`] is the pure decision; [`read`] opens the file once and judges the opened handle, so
//! the file checked is the file read.

use std::io::Read;
use std::path::Path;

use super::error::{CredentialsError, Tool, Warning};

/// The largest credentials file read (a real one is a few hundred bytes).
pub const MAX_LEN: u64 = 64 * 1024;

/// Which rule a file is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// cdnsync's own `credentials_file`: 0600.
    Own,
    /// Written by tccli or the SDK: others may read (warning), not write.
    Tool(Tool),
}

/// What the policy looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Permission bits (`st_mode`).
    pub mode: u32,
    /// Owner's user id.
    pub uid: u32,
}

/// The decision for one file: `Ok(None)` fine, `Ok(Some(w))` use it but warn, `Err` refuse.
pub fn judge(path: &Path, facts: Facts, me: u32, policy: Policy) -> Result<Option<Warning>, CredentialsError> {
    let mode = facts.mode & 0o7777;
    if facts.uid != me && facts.uid != 0 {
        return Err(CredentialsError::ForeignOwner { path: path.to_path_buf(), owner: facts.uid, me });
    }
    match policy {
        Policy::Own if mode & 0o077 != 0 => Err(CredentialsError::NotPrivate { path: path.to_path_buf(), mode }),
        Policy::Own => Ok(None),
        Policy::Tool(_) if mode & 0o022 != 0 => Err(CredentialsError::WritableByOthers { path: path.to_path_buf(), mode }),
        Policy::Tool(tool) if mode & 0o044 != 0 => Ok(Some(Warning::ReadableByOthers { path: path.to_path_buf(), mode, tool })),
        Policy::Tool(_) => Ok(None),
    }
}

/// This process's effective user id (whom a credentials file must belong to, or root).
#[cfg(unix)]
pub fn current_uid() -> u32 {
    extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours (POSIX).
    unsafe { geteuid() }
}

/// This process's user id (no owners to check off Unix).
#[cfg(not(unix))]
pub fn current_uid() -> u32 {
    0
}

/// Read `path` under `policy`: `Ok(None)` when there is no such file, else its text and any
/// warning. `me` is the user the file must belong to (or root).
pub fn read(path: &Path, policy: Policy, me: u32) -> Result<Option<(String, Option<Warning>)>, CredentialsError> {
    let unreadable = |source| CredentialsError::Unreadable { path: path.to_path_buf(), source };
    // Check the kind before opening: opening a FIFO would block.
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Err(CredentialsError::NotAFile { path: path.to_path_buf() }),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(CredentialsError::NotAFile { path: path.to_path_buf() });
    }
    let warning = judge_meta(path, &meta, me, policy)?;
    if meta.len() > MAX_LEN {
        return Err(CredentialsError::TooLarge { path: path.to_path_buf(), len: meta.len(), max: MAX_LEN });
    }
    let mut text = String::new();
    // The size may change between the check and the read: never read more than the limit.
    file.take(MAX_LEN + 1).read_to_string(&mut text).map_err(unreadable)?;
    if text.len() as u64 > MAX_LEN {
        return Err(CredentialsError::TooLarge { path: path.to_path_buf(), len: text.len() as u64, max: MAX_LEN });
    }
    Ok(Some((text, warning)))
}

#[cfg(unix)]
fn judge_meta(path: &Path, meta: &std::fs::Metadata, me: u32, policy: Policy) -> Result<Option<Warning>, CredentialsError> {
    use std::os::unix::fs::MetadataExt;
    judge(path, Facts { mode: meta.mode(), uid: meta.uid() }, me, policy)
}

#[cfg(not(unix))]
fn judge_meta(_: &Path, _: &std::fs::Metadata, _: u32, _: Policy) -> Result<Option<Warning>, CredentialsError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;
    const TCCLI: Policy = Policy::Tool(Tool::Tccli);

    fn j(mode: u32, uid: u32, policy: Policy) -> Result<Option<Warning>, CredentialsError> {
        judge(Path::new("/h/.tccli/default.credential"), Facts { mode: 0o100000 | mode, uid }, ME, policy)
    }

    #[test]
    fn tool_files_readable_by_others_warn_with_the_chmod() {
        let w = j(0o644, ME, TCCLI).unwrap().expect("a warning");
        let s = w.to_string();
        assert!(s.contains("/h/.tccli/default.credential") && s.contains("chmod 600") && s.contains("644"), "{s}");
        assert!(j(0o640, ME, Policy::Tool(Tool::Sdk)).unwrap().is_some());
        assert_eq!(j(0o600, ME, TCCLI).unwrap(), None);
        assert_eq!(j(0o400, ME, TCCLI).unwrap(), None);
    }

    #[test]
    fn tool_files_writable_by_others_are_refused() {
        for mode in [0o664, 0o646, 0o666, 0o620, 0o602] {
            let e = j(mode, ME, TCCLI).unwrap_err();
            assert!(matches!(e, CredentialsError::WritableByOthers { .. }), "{mode:o}: {e}");
            assert!(e.to_string().contains("chmod go-w /h/.tccli/default.credential"), "{e}");
        }
    }

    #[test]
    fn files_of_another_user_are_refused_but_root_is_trusted() {
        let e = j(0o600, 1001, TCCLI).unwrap_err();
        assert!(matches!(e, CredentialsError::ForeignOwner { owner: 1001, me: ME, .. }), "{e}");
        assert!(e.to_string().contains("1001"), "{e}");
        assert!(j(0o600, 1001, Policy::Own).is_err());
        assert_eq!(j(0o600, 0, TCCLI).unwrap(), None, "a root-owned /etc/tencentcloud/credentials is fine");
        assert!(j(0o644, 0, TCCLI).unwrap().is_some());
    }

    #[test]
    fn own_file_keeps_the_strict_0600_rule() {
        let e = j(0o644, ME, Policy::Own).unwrap_err();
        assert!(matches!(e, CredentialsError::NotPrivate { mode: 0o644, .. }), "{e}");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert!(j(0o640, ME, Policy::Own).is_err());
        assert!(j(0o604, ME, Policy::Own).is_err());
        assert_eq!(j(0o600, ME, Policy::Own).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn read_judges_the_opened_file_and_refuses_odd_ones() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let me = current_uid();
        assert!(read(&tmp.path().join("absent"), TCCLI, me).unwrap().is_none());
        assert!(matches!(read(tmp.path(), TCCLI, me), Err(CredentialsError::NotAFile { .. })));
        let p = tmp.path().join("c");
        std::fs::write(&p, "x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (text, w) = read(&p, TCCLI, me).unwrap().unwrap();
        assert_eq!(text, "x");
        assert!(w.is_some());
        // Someone else's file: as root, give it away; as anyone else, read it as another user
        // (root-owned files are trusted, so the file must not end up root's).
        let q = tmp.path().join("theirs");
        std::fs::write(&q, "x").unwrap();
        std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o600)).unwrap();
        let as_user = if me == 0 {
            std::os::unix::fs::chown(&q, Some(4242), None).unwrap();
            0
        } else {
            me + 1
        };
        assert!(matches!(read(&q, TCCLI, as_user), Err(CredentialsError::ForeignOwner { owner, .. }) if owner != as_user));
        std::fs::write(&p, vec![b'a'; MAX_LEN as usize + 1]).unwrap();
        assert!(matches!(read(&p, TCCLI, me), Err(CredentialsError::TooLarge { .. })));
    }
}
