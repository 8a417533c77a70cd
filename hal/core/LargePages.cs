using System.Runtime.InteropServices;

namespace SnicRuntime.Hal;

/// <summary>
/// Memory for big tables and buffer pools, backed by 2 MiB transparent huge pages where the OS
/// offers them. A random lookup into a 20 MB table otherwise pays a page walk per access on top of
/// the cache miss; DPDK avoids this with hugetlbfs, we ask Linux for THP on our own mappings
/// (madvise mode is the common default). Elsewhere this is an aligned native allocation.
/// </summary>
public static unsafe partial class LargePages
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MadvHugePage = 14;
    private const int MadvPopulateWrite = 23; // Linux 5.14+
    private const nuint HugePage = 2 * 1024 * 1024;

    /// <summary>Zeroed memory of at least <paramref name="bytes"/>, 64-byte aligned (2 MiB aligned when large).</summary>
    public static void* Allocate(nuint bytes)
    {
        if (!OperatingSystem.IsLinux() || bytes < HugePage)
        {
            void* p = NativeMemory.AlignedAlloc(bytes, 128);
            NativeMemory.Clear(p, bytes);
            return p;
        }

        // Over-map by one huge page so the start can be aligned to 2 MiB, which THP needs.
        nuint length = bytes + HugePage;
        void* raw = mmap(null, length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (raw == (void*)-1)
        {
            throw new OutOfMemoryException($"mmap of {length} bytes failed (errno {Marshal.GetLastPInvokeError()})");
        }

        nuint aligned = ((nuint)raw + HugePage - 1) & ~(HugePage - 1);
        nuint usable = ((nuint)raw + length - aligned) & ~(HugePage - 1);
        // A refused hint (no THP in this kernel) leaves ordinary pages: slower, still correct.
        _ = madvise((void*)aligned, usable, MadvHugePage);

        // Fault the pages in now so the first packets do not pay for page faults (DPDK pre-faults
        // its hugepages at init for the same reason). One touch per 4 KiB: where the kernel gives
        // no huge page (THP off, or refused, as on this project's CI machine) every small page
        // must be touched, and where it does give one the extra touches hit a present page.
        // MADV_POPULATE_WRITE does it in one call (no fault per page); older kernels refuse it and
        // get the touch loop.
        if (madvise((void*)aligned, usable, MadvPopulateWrite) != 0)
        {
            for (nuint off = 0; off < usable; off += 4096)
            {
                ((byte*)aligned)[off] = 0;
            }
        }

        var record = new Mapping((nuint)raw, length);
        lock (s_mappings)
        {
            s_mappings[(nuint)aligned] = record;
        }

        return (void*)aligned;
    }

    public static void Free(void* p)
    {
        if (p == null)
        {
            return;
        }

        Mapping m;
        lock (s_mappings)
        {
            if (!s_mappings.Remove((nuint)p, out m))
            {
                NativeMemory.AlignedFree(p);
                return;
            }
        }

        munmap((void*)m.Start, m.Length);
    }

    private readonly record struct Mapping(nuint Start, nuint Length);

    private static readonly Dictionary<nuint, Mapping> s_mappings = [];

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
