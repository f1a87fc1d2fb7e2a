/* A stand-in for Windows 10's bcryptprimitives.dll, for running the Windows archive under Wine
 * older than 9.0 (Debian 12 has 8.0), which lacks that DLL. Rust's standard library (since 1.78)
 * imports ProcessPrng from it for HashMap keys and stops before main without it. Real Windows
 * 10+ has the DLL; this file is never shipped: tests/dist/run-foreign.sh builds it with zig and
 * puts it beside aiex.exe in its scratch copy. ProcessPrng is given the same meaning through
 * RtlGenRandom (advapi32's SystemFunction036), which every Wine has. */
#include <windows.h>
typedef BOOLEAN (WINAPI *rtl_gen_random)(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    static rtl_gen_random gen;
    if (!gen) gen = (rtl_gen_random)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
    if (!gen) return FALSE;
    while (len) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!gen(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
