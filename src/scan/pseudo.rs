//! Pseudo filesystems (proc, sysfs, devtmpfs, cgroup…): the kernel's views of itself, which the
//! scan never enters (`docs/config.md`, `symlinks`). Their files are endless (`/proc/kcore`),
//! change on every read, or loop (`/proc/self/root`), and none of them is a site.
//!
//! On Linux a folder's filesystem is told by its device number (`stat`'s `st_dev`), looked up in
//! `/proc/self/mountinfo`, which names each mount's type. That tells devtmpfs from tmpfs, which
//! `statfs`'s magic number cannot (both report tmpfs), and needs no call beyond the `stat` the
//! walk makes anyway. Without a readable mountinfo, and on other systems, the paths `/proc`,
//! `/sys` and `/dev` (links resolved) stand for them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Filesystem types never entered (as `/proc/self/mountinfo` and `mount` name them).
pub const PSEUDO_TYPES: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "binfmt_misc",
    "efivarfs",
    "nsfs",
    "rpc_pipefs",
    "selinuxfs",
    // BSD and macOS names.
    "devfs",
    "fdescfs",
    "procfs",
    "linprocfs",
    "linsysfs",
];

/// Where pseudo filesystems are mounted when nothing better tells them apart.
const PSEUDO_PATHS: &[&str] = &["/proc", "/sys", "/dev"];

/// The pseudo filesystems of this machine, read once per scan.
#[derive(Debug, Default)]
pub struct PseudoFs {
    /// Device number -> filesystem type, for the pseudo ones (`None`: no mountinfo to read).
    devices: Option<HashMap<u64, String>>,
}

impl PseudoFs {
    /// Read the mount table (Linux); elsewhere, or without it, paths decide.
    pub fn load() -> Self {
        let text = if cfg!(target_os = "linux") { std::fs::read_to_string("/proc/self/mountinfo").ok() } else { None };
        PseudoFs { devices: text.map(|t| parse_mountinfo(&t)) }
    }

    /// The pseudo filesystem type `path` (on device `dev`) is on, if it is on one.
    pub fn kind(&self, path: &Path, dev: u64) -> Option<String> {
        match &self.devices {
            Some(d) => d.get(&dev).cloned(),
            None => by_path(path),
        }
    }
}

/// `path`, links resolved, under one of [`PSEUDO_PATHS`]: that path's name stands for the type.
fn by_path(path: &Path) -> Option<String> {
    let real: PathBuf = std::fs::canonicalize(path).ok()?;
    PSEUDO_PATHS.iter().find(|p| real.starts_with(p)).map(|p| p.trim_start_matches('/').to_string())
}

/// The pseudo filesystems of a `/proc/self/mountinfo` text, by device number. A line is
/// `ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTIONS [OPTIONAL…] - TYPE SOURCE SUPER_OPTIONS`;
/// lines that do not read so are skipped.
pub fn parse_mountinfo(text: &str) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(' ');
        let Some(dev) = fields.nth(2).and_then(parse_dev) else { continue };
        let Some(fstype) = fields.skip_while(|f| *f != "-").nth(1) else { continue };
        // "fuse.sshfs" is fuse's subtype naming: the type is the part before the dot.
        let base = fstype.split('.').next().unwrap_or(fstype);
        if PSEUDO_TYPES.contains(&base) {
            out.insert(dev, base.to_string());
        }
    }
    out
}

/// `MAJOR:MINOR` as `st_dev` holds it (glibc's and musl's `makedev`).
fn parse_dev(s: &str) -> Option<u64> {
    let (major, minor) = s.split_once(':')?;
    let (major, minor): (u64, u64) = (major.parse().ok()?, minor.parse().ok()?);
    Some(((major & 0xffff_f000) << 32) | ((major & 0x0000_0fff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0x0000_00ff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_pseudo_devices() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=1k\n\
                    25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw\n\
                    30 27 259:1 / / rw,relatime shared:1 master:2 - ext4 /dev/nvme0n1p1 rw\n\
                    31 30 0:40 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw\n\
                    32 30 0:41 / /mnt/x rw - fuse.sshfs host:/ rw\n\
                    garbage\n\
                    33 30 x:y / /bad rw - proc proc rw\n";
        let d = parse_mountinfo(text);
        assert_eq!(d.get(&21).map(String::as_str), Some("proc"));
        assert_eq!(d.get(&6).map(String::as_str), Some("devtmpfs"));
        assert_eq!(d.get(&40).map(String::as_str), Some("cgroup2"));
        assert_eq!(d.len(), 3, "tmpfs, ext4 and fuse are storage: {d:?}");
        // A major and minor past 8 bits each, as makedev packs them.
        assert_eq!(parse_dev("259:1"), Some((259 << 8) | 1));
        assert_eq!(parse_dev("8:300"), Some((8 << 8) | (300 & 0xff) | ((300 & !0xff) << 12)));
    }

    /// The device numbers read from this machine's mount table are the ones `stat` reports.
    #[cfg(target_os = "linux")]
    #[test]
    fn this_machines_proc_and_dev_are_pseudo() {
        use std::os::unix::fs::MetadataExt;
        if !Path::new("/proc/self/mountinfo").exists() {
            assert_eq!(by_path(Path::new("/proc/self")).as_deref(), Some("proc"));
            return;
        }
        let fs = PseudoFs::load();
        let proc = std::fs::metadata("/proc/self").unwrap();
        assert_eq!(fs.kind(Path::new("/proc/self"), proc.dev()).as_deref(), Some("proc"));
        let here = std::env::current_dir().unwrap();
        assert_eq!(fs.kind(&here, std::fs::metadata(&here).unwrap().dev()), None, "the build folder is storage");
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        if let Some(line) = text.lines().find(|l| l.contains(" - devtmpfs ")) {
            let point = line.split(' ').nth(4).unwrap();
            let dev = std::fs::metadata(point).unwrap().dev();
            assert_eq!(fs.kind(Path::new(point), dev).as_deref(), Some("devtmpfs"), "{line}");
        }
    }
}
