//! Dropping privileges inside the environment: resource limits, the unprivileged user, an empty
//! capability bounding set, no ambient capabilities, `no_new_privs`, and the seccomp filters.

use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{setresgid, setresuid, Gid, Uid};

use super::seccomp;
use super::spec::Identity;

/// A failed step of dropping privileges.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error("failed to set {resource} to {value}: {errno}")]
    Limit { resource: &'static str, value: u64, errno: nix::errno::Errno },
    #[error("failed to drop capability {capability} from the bounding set: {errno}")]
    Bounding { capability: u32, errno: nix::errno::Errno },
    #[error("failed to switch to uid {uid} and gid {gid}: {errno}")]
    SwitchUser { uid: u32, gid: u32, errno: nix::errno::Errno },
    #[error("failed to set {what}: {errno}")]
    Prctl { what: &'static str, errno: nix::errno::Errno },
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
}

/// Drops every privilege of the calling process. `in_user_namespace` skips `setgroups`, which
/// a user namespace with `setgroups` denied rejects; that namespace has no supplementary groups
/// to clear.
pub(crate) fn drop_privileges(
    identity: &Identity,
    in_user_namespace: bool,
    filters: &[Vec<u64>],
) -> Result<(), IdentityError> {
    set_limits(identity)?;
    drop_bounding_set()?;
    switch_user(identity, in_user_namespace)?;
    clear_capabilities()?;
    clear_ambient()?;
    set_no_new_privs()?;
    seccomp::install(filters)?;
    Ok(())
}

fn set_limits(identity: &Identity) -> Result<(), IdentityError> {
    for (resource, name, value) in [
        (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE", identity.max_open_files),
        (Resource::RLIMIT_NPROC, "RLIMIT_NPROC", identity.max_processes),
        (Resource::RLIMIT_CORE, "RLIMIT_CORE", 0),
    ] {
        setrlimit(resource, value, value).map_err(|errno| IdentityError::Limit {
            resource: name,
            value,
            errno,
        })?;
    }
    Ok(())
}

/// Clears the bounding set, so that no later `execve` can regain a capability. Runs before
/// the switch of user, because it needs CAP_SETPCAP.
fn drop_bounding_set() -> Result<(), IdentityError> {
    for capability in 0..=63u32 {
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory of ours.
        let result = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(capability), 0, 0, 0) };
        if result == 0 {
            continue;
        }
        let errno = nix::errno::Errno::last();
        if errno == nix::errno::Errno::EINVAL {
            // Past the last capability this kernel defines.
            return Ok(());
        }
        return Err(IdentityError::Bounding { capability, errno });
    }
    Ok(())
}

/// Switches real, effective and saved ids. Leaving uid 0 clears the permitted and effective
/// capability sets, because the process does not set SECBIT_KEEP_CAPS.
fn switch_user(identity: &Identity, in_user_namespace: bool) -> Result<(), IdentityError> {
    let error = |errno| IdentityError::SwitchUser { uid: identity.uid, gid: identity.gid, errno };
    if !in_user_namespace {
        nix::unistd::setgroups(&[]).map_err(error)?;
    }
    let gid = Gid::from_raw(identity.gid);
    setresgid(gid, gid, gid).map_err(error)?;
    let uid = Uid::from_raw(identity.uid);
    setresuid(uid, uid, uid).map_err(error)
}

/// Empties the effective, permitted and inheritable sets. Switching user already does this when
/// leaving uid 0; a user namespace may map the helper straight to the sandbox user, and there the
/// sets would survive until `execve`.
fn clear_capabilities() -> Result<(), IdentityError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: capset reads one header and two data structs in the _LINUX_CAPABILITY_VERSION_3
    // layout, which `header` and `data` have, and both outlive the call.
    let result = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if result != 0 {
        return Err(IdentityError::Prctl { what: "capset", errno: nix::errno::Errno::last() });
    }
    Ok(())
}

fn clear_ambient() -> Result<(), IdentityError> {
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers.
    let result = unsafe {
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0)
    };
    if result != 0 {
        return Err(IdentityError::Prctl {
            what: "PR_CAP_AMBIENT_CLEAR_ALL",
            errno: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

fn set_no_new_privs() -> Result<(), IdentityError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    let result = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if result != 0 {
        return Err(IdentityError::Prctl { what: "PR_SET_NO_NEW_PRIVS", errno: nix::errno::Errno::last() });
    }
    Ok(())
}

/// Makes the calling process non-dumpable, so that processes of the same user cannot open its
/// `/proc/PID/mem`. `execve` resets this for the new program.
pub(crate) fn set_not_dumpable() -> Result<(), IdentityError> {
    // SAFETY: PR_SET_DUMPABLE takes integer arguments only.
    let result = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if result != 0 {
        return Err(IdentityError::Prctl { what: "PR_SET_DUMPABLE", errno: nix::errno::Errno::last() });
    }
    Ok(())
}

/// Asks the kernel to send SIGKILL to the calling process when its parent exits.
pub(crate) fn kill_on_parent_exit() -> Result<(), IdentityError> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number.
    let result = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) };
    if result != 0 {
        return Err(IdentityError::Prctl { what: "PR_SET_PDEATHSIG", errno: nix::errno::Errno::last() });
    }
    Ok(())
}
