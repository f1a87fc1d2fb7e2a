//! The process's memory as the system sees it: one allocator arena for every thread, and the
//! pages given back once the server is quiet or has finished indexing (the allocator's free
//! pages, the read-only file mappings' resident pages). Figures: bench `edit_storm`.

/// Makes glibc's allocator keep one arena for every thread. By default each thread that
/// allocates (the runtime's workers, every blocking-pool thread that parsed or indexed) gets an
/// arena of its own, and memory freed in one stays resident there: after an edit storm with a
/// provider configured, 30 MB of the server's 55 MB resident was arenas' free space (one arena:
/// 39 MB in all, measured by `edit_storm`). The server makes few allocations per request, so
/// sharing one arena costs no measurable time. Call once, before any thread starts.
pub fn use_one_allocator_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the allocator's free pages to the system (glibc keeps them in its heap otherwise).
/// Takes milliseconds: call it off any message loop.
pub fn give_back_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free pages to the kernel; it takes no pointers and is
    // thread-safe in glibc.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Unmaps the resident pages of the process's read-only file mappings (the executable's code
/// and constants, the shared libraries'): they stay in the page cache, and the code the server
/// runs next maps its pages back at the first touch (a minor fault each). Without this the
/// resident set keeps every page ever run or read (startup, configuration, indexing, with the
/// kernel's fault-around mapping 64 KiB at each fault): 12.5 MB of the executable after an
/// edit storm with a provider (bench `edit_storm`).
///
/// Only mappings without anonymous pages: a private file page once written (relocations made
/// read-only afterwards, a debugger's breakpoint) exists nowhere else, and is never dropped.
pub fn give_back_code_pages() {
    #[cfg(target_os = "linux")]
    for mapping in droppable_mappings() {
        // SAFETY: the range is a whole mapping of this process, read-only, private and
        // file-backed, with no anonymous page: every resident page is the file's content, which
        // the next access maps again. Nothing is freed or changed.
        unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.end - mapping.start,
                libc::MADV_DONTNEED,
            );
        }
    }
}

/// A mapping [`give_back_code_pages`] may unmap the pages of.
#[cfg(target_os = "linux")]
#[derive(Debug)]
struct DroppableMapping {
    start: usize,
    end: usize,
    /// Resident kilobytes when read.
    #[cfg_attr(not(test), allow(dead_code))]
    resident_kb: u64,
}

/// The read-only private file mappings with no anonymous page, from `/proc/self/smaps` (where
/// each mapping's `Rss:` comes before its `Anonymous:`).
#[cfg(target_os = "linux")]
fn droppable_mappings() -> Vec<DroppableMapping> {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut candidate: Option<DroppableMapping> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        let kb = |mut fields: std::str::SplitWhitespace<'_>| -> Option<u64> {
            fields.next()?.parse().ok()
        };
        if let Some((start, end)) = first.split_once('-') {
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let read_only_private = perms.len() == 4
                && perms.starts_with('r')
                && perms.as_bytes()[1] == b'-'
                && perms.ends_with('p');
            candidate = match (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                (Ok(start), Ok(end)) if read_only_private && path.starts_with('/') => {
                    Some(DroppableMapping {
                        start,
                        end,
                        resident_kb: 0,
                    })
                }
                _ => None,
            };
        } else if first == "Rss:" {
            if let Some(mapping) = &mut candidate {
                mapping.resident_kb = kb(fields).unwrap_or(0);
            }
        } else if first == "Anonymous:" {
            if let Some(mapping) = candidate.take() {
                if kb(fields) == Some(0) {
                    found.push(mapping);
                }
            }
        }
    }
    found
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Constants of the executable, read before and after their pages are given back.
    static CONSTANTS: [u32; 65_536] = {
        let mut table = [0u32; 65_536];
        let mut i = 0;
        while i < table.len() {
            table[i] = (i as u32).wrapping_mul(2_654_435_761);
            i += 1;
        }
        table
    };

    fn checksum() -> u64 {
        CONSTANTS
            .iter()
            .fold(0u64, |sum, &v| sum.rotate_left(5) ^ u64::from(v))
    }

    fn resident_kb() -> u64 {
        droppable_mappings().iter().map(|m| m.resident_kb).sum()
    }

    #[test]
    fn code_pages_given_back_leave_fewer_pages_resident_and_the_same_constants() {
        let before_sum = checksum();
        let before = resident_kb();
        assert!(before > 0, "the executable's pages are resident");
        give_back_code_pages();
        let after = resident_kb();
        assert!(
            after < before,
            "{after} kB resident after, {before} kB before"
        );
        // Mapped again from the file at the first touch, unchanged.
        assert_eq!(checksum(), before_sum);
        assert!(resident_kb() > after, "touched again, resident again");
    }
}
