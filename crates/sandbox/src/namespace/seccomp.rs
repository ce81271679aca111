//! The seccomp filters of every environment. System calls that could change the sandbox itself
//! (mounts, namespaces, kernel modules, tracing, keyrings, clocks) fail with `EPERM`. `clone3`
//! fails with `ENOSYS`, so that libc falls back to `clone`, whose flags the filter can inspect.
//! All other system calls are allowed. The filters are compiled once per server.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use super::spec::{pack_instruction, unpack_instruction};

/// A failure to compile or install the filters.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// seccompiler rejected the rules or the architecture
    #[error("failed to compile the seccomp filter for {arch}: {message}")]
    Compile { arch: &'static str, message: String },
    /// the kernel rejected a filter
    #[error("failed to install seccomp filter {index}: {message}")]
    Install { index: usize, message: String },
}

/// The namespace flags that `clone` may not be called with.
const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    0x80, // CLONE_NEWTIME, which the libc crate does not define
];

/// The `personality` values allowed: Linux, with or without address randomization disabled
/// or the 4 GB address-space limit, and the query value.
const ALLOWED_PERSONALITIES: &[u64] = &[0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

/// System calls that fail with `EPERM` whatever their arguments.
fn denied_syscalls() -> Vec<i64> {
    let mut denied = vec![
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_getfd,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_setns,
        libc::SYS_unshare,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_userfaultfd,
        libc::SYS_acct,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_syslog,
        libc::SYS_quotactl,
        libc::SYS_lookup_dcookie,
        libc::SYS_mbind,
        libc::SYS_set_mempolicy,
        libc::SYS_migrate_pages,
        libc::SYS_move_pages,
        libc::SYS_vhangup,
        libc::SYS_fanotify_init,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
    ];
    #[cfg(target_arch = "x86_64")]
    denied.extend([libc::SYS_iopl, libc::SYS_ioperm, libc::SYS_uselib, libc::SYS__sysctl]);
    denied
}

fn condition(
    arg_index: u8,
    operator: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(arg_index, SeccompCmpArgLen::Qword, operator, value)
}

/// `clone` matches when any namespace flag is set in its first argument.
fn clone_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    NAMESPACE_FLAGS
        .iter()
        .map(|&flag| SeccompRule::new(vec![condition(0, SeccompCmpOp::MaskedEq(flag), flag)?]))
        .collect()
}

/// Matches `personality` calls whose argument differs from every allowed value.
fn personality_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let conditions = ALLOWED_PERSONALITIES
        .iter()
        .map(|&value| SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vec![SeccompRule::new(conditions)?])
}

fn target_arch() -> Result<TargetArch, SeccompError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|err| SeccompError::Compile { arch: std::env::consts::ARCH, message: err.to_string() })
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, SeccompError> {
    let arch = target_arch()?;
    let compile_error = |message: String| SeccompError::Compile { arch: std::env::consts::ARCH, message };
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), arch)
        .map_err(|err| compile_error(err.to_string()))?;
    filter.try_into().map_err(|err: seccompiler::BackendError| compile_error(err.to_string()))
}

fn compile_denials() -> Result<BpfProgram, SeccompError> {
    let backend_error = |err: seccompiler::BackendError| SeccompError::Compile {
        arch: std::env::consts::ARCH,
        message: err.to_string(),
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        denied_syscalls().into_iter().map(|nr| (nr, vec![])).collect();
    rules.insert(libc::SYS_clone, clone_rules().map_err(backend_error)?);
    rules.insert(libc::SYS_personality, personality_rules().map_err(backend_error)?);
    compile(rules, libc::EPERM)
}

fn compile_clone3() -> Result<BpfProgram, SeccompError> {
    compile(BTreeMap::from([(libc::SYS_clone3, vec![])]), libc::ENOSYS)
}

/// Builds a filter that rejects x32 system calls, whose numbers have bit 30 set and would
/// otherwise match none of the rules above. The architecture check in seccompiler's programs stops
/// 32-bit (`int 0x80`) calls.
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> BpfProgram {
    use seccompiler::sock_filter;
    const LOAD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let errno = 0x0005_0000 | libc::ENOSYS as u32; // SECCOMP_RET_ERRNO
    let allow = 0x7fff_0000; // SECCOMP_RET_ALLOW
    let instruction = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        instruction(LOAD_NR, 0, 0, 0),
        instruction(JGE, 0, 1, X32_SYSCALL_BIT),
        instruction(RET, 0, 0, errno),
        instruction(RET, 0, 0, allow),
    ]
}

fn compile_all() -> Result<Vec<BpfProgram>, SeccompError> {
    let mut filters = vec![compile_denials()?, compile_clone3()?];
    #[cfg(target_arch = "x86_64")]
    filters.insert(0, x32_guard());
    Ok(filters)
}

/// Returns the compiled filters, packed for the helper. Only the first call compiles them.
pub(crate) fn packed_filters() -> Result<&'static [Vec<u64>], SeccompError> {
    static FILTERS: OnceLock<Result<Vec<Vec<u64>>, String>> = OnceLock::new();
    let packed = FILTERS.get_or_init(|| {
        let filters = compile_all().map_err(|err| err.to_string())?;
        Ok(filters.iter().map(pack).collect())
    });
    packed
        .as_deref()
        .map_err(|message| SeccompError::Compile { arch: std::env::consts::ARCH, message: message.clone() })
}

fn pack(filter: &BpfProgram) -> Vec<u64> {
    filter.iter().map(|i| pack_instruction(i.code, i.jt, i.jf, i.k)).collect()
}

fn unpack(packed: &[u64]) -> BpfProgram {
    packed
        .iter()
        .map(|&word| {
            let (code, jt, jf, k) = unpack_instruction(word);
            seccompiler::sock_filter { code, jt, jf, k }
        })
        .collect()
}

/// Installs the packed filters on the calling thread. `no_new_privs` must already be set.
pub(crate) fn install(filters: &[Vec<u64>]) -> Result<(), SeccompError> {
    for (index, packed) in filters.iter().enumerate() {
        seccompiler::apply_filter(&unpack(packed))
            .map_err(|err| SeccompError::Install { index, message: err.to_string() })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_once() {
        let first = packed_filters().unwrap();
        let second = packed_filters().unwrap();
        assert!(std::ptr::eq(first, second));
        assert!(first.len() >= 2);
        assert!(first.iter().all(|filter| !filter.is_empty()));
    }

    #[test]
    fn denied_list_covers_namespace_and_mount_calls() {
        let denied = denied_syscalls();
        for nr in [libc::SYS_mount, libc::SYS_unshare, libc::SYS_setns, libc::SYS_ptrace, libc::SYS_bpf] {
            assert!(denied.contains(&nr), "system call {nr} is not denied");
        }
        assert!(!denied.contains(&libc::SYS_clone));
        assert!(!denied.contains(&libc::SYS_execve));
    }
}
