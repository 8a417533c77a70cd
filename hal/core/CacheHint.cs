using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SnicRuntime.Hal;

/// <summary>
/// Software prefetch. x86 has the instruction (SSE); .NET exposes none for arm64, where this is a
/// no-op and the hardware prefetcher plus the burst phase split have to hide the latency.
/// </summary>
public static unsafe class CacheHint
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(p);
        }
    }

    /// <summary>Prefetches a managed array element (the GC does not move objects mid-burst often enough to matter; a stale hint is harmless).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch<T>(ref T element) => Prefetch(Unsafe.AsPointer(ref element));
}
