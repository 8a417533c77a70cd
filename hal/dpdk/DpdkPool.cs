namespace SnicRuntime.Hal.Dpdk;

/// <summary>
/// The packet pool of a DPDK board: an mbuf pool whose buffers are also PacketRefs (the
/// PacketHeader lives in each mbuf's 64-byte private area, right before its data buffer). Ports
/// receive into it and transmit from it without copying a byte; the rest of the runtime sees an
/// ordinary <see cref="PacketPool"/>.
/// </summary>
public static unsafe class DpdkPool
{
    /// <summary>RTE_PKTMBUF_HEADROOM of Debian's build: where every PMD puts a received frame.</summary>
    public const int MbufHeadroom = 128;

    private static int s_next = -1;

    /// <summary>
    /// Makes a pool of <paramref name="count"/> mbufs with <paramref name="dataRoom"/> bytes for the
    /// frame after <paramref name="headroom"/> (which must be DPDK's own, 128). The EAL must be running.
    /// </summary>
    public static PacketPool Create(int count, int dataRoom = PacketPool.DefaultDataRoom, int headroom = MbufHeadroom)
    {
        if (!DpdkEal.Running)
        {
            throw new DpdkException("the DPDK packet pool needs the EAL running first (DpdkEal.Init)");
        }

        if (headroom != MbufHeadroom)
        {
            throw new DpdkException($"DPDK receives frames {MbufHeadroom} bytes into a buffer (RTE_PKTMBUF_HEADROOM); the board asks {headroom} bytes of headroom");
        }

        if (count < 64 || headroom + dataRoom > ushort.MaxValue)
        {
            throw new DpdkException($"a DPDK packet pool holds at least 64 buffers of at most 64 KiB (asked {count} of {headroom + dataRoom} bytes)");
        }

        // The mempool's per-lcore caches serve EAL threads only (workers are not EAL lcores), so
        // none is made: every get and put is one bulk operation on the pool's lock-free ring.
        byte[] name = DpdkEal.Utf8($"snic_pool_{Interlocked.Increment(ref s_next)}");
        byte* error = stackalloc byte[256];
        error[0] = 0;
        byte* low;
        byte* high;
        uint stride;
        nint pool;
        fixed (byte* n = name)
        {
            pool = DpdkNative.PoolCreate(n, (uint)count, 0, (ushort)(headroom + dataRoom), &low, &high, &stride, error, 256);
        }

        if (pool == 0)
        {
            throw new DpdkException(DpdkEal.Utf8Error(error));
        }

        var external = new ExternalBuffers
        {
            Handle = pool,
            Alloc = DpdkNative.Alloc,
            Free = DpdkNative.Free,
            Available = DpdkNative.PoolAvailable,
            Destroy = DpdkNative.PoolFree,
            Low = low,
            High = high,
            Stride = (int)stride,
        };
        return new PacketPool(external, count, dataRoom, headroom);
    }

    /// <summary>The rte_mempool behind <paramref name="pool"/>, or a clear refusal for a pool of our own.</summary>
    internal static nint MempoolOf(PacketPool pool) => pool.ExternalHandle != 0 ? pool.ExternalHandle
        : throw new DpdkException("DPDK ports receive into mbufs: make the dataplane's pool with DpdkPool.Create");
}
