using SnicRuntime.Hal;
using SnicRuntime.Hal.Dpdk;
using SnicRuntime.Tests.Hal.Core;
using Xunit;

namespace SnicRuntime.Tests.Hal.Dpdk;

/// <summary>
/// The DPDK driver's zero copy: the pool's buffers are mbufs whose private area is our
/// PacketHeader, so a PacketRef and an mbuf are the same buffer. Runs on the EAL the DPDK
/// contract tests start (one per process) and its spare ring device.
/// </summary>
public sealed unsafe class DpdkPoolTests
{
    private static string? Unavailable => DpdkQueueContractTests.s_unavailable;

    // rte_mbuf, as Debian's 22.11 lays it out: buf_addr at 0, data_off at 16; the mbuf is 128
    // bytes and our header follows it.
    private static byte* MbufBufAddr(PacketRef p) => *(byte**)((byte*)p.Raw - 128);

    private static ushort MbufDataOff(PacketRef p) => *(ushort*)((byte*)p.Raw - 128 + 16);

    [SkippableFact]
    public void Buffers_are_mbufs_laid_out_as_packet_refs_and_exhaustion_is_counted()
    {
        Skip.If(Unavailable is not null, Unavailable);
        using PacketPool pool = DpdkPool.Create(256, dataRoom: 2048);
        using var own = new PacketPool(8);
        var all = new PacketRef[257];
        Assert.Equal(256, pool.AllocBulk(all));
        Assert.Equal(1, pool.AllocFailures);
        Assert.False(pool.TryAlloc(out _));
        Assert.All(all[..256], p =>
        {
            Assert.Equal(0, p.Raw % 64);
            Assert.True(pool.Owns(p));
            Assert.Equal(DpdkPool.MbufHeadroom, p.Headroom);
            Assert.Equal(0, p.Length);
            Assert.Equal(DpdkPool.MbufHeadroom + 2048, p.Header.BufferLength);
            // The frame the runtime sees is the frame the mbuf describes.
            Assert.Equal((nint)p.DataPointer, (nint)(MbufBufAddr(p) + MbufDataOff(p)));
        });
        Assert.Equal(256, all[..256].Select(p => p.Header.PoolIndex).Distinct().Count());
        Assert.True(own.TryAlloc(out PacketRef stranger));
        Assert.False(pool.Owns(stranger));
        Assert.Throws<ArgumentException>(() => pool.Free(stranger));
        own.Free(stranger);
        pool.FreeBulk(all.AsSpan(0, 256));
        Assert.Equal(256, pool.Available);
        Assert.True(pool.TryAlloc(out PacketRef again));
        pool.Free(again);
    }

    [SkippableFact]
    public void A_sent_frame_is_received_as_the_same_buffer_with_its_moved_start()
    {
        Skip.If(Unavailable is not null, Unavailable);
        using PacketPool pool = DpdkPool.Create(2048);
        var sent = new PacketRef[16];
        Assert.Equal(16, pool.AllocBulk(sent));
        for (int i = 0; i < sent.Length; i++)
        {
            sent[i].SetLength(64 + i);
            sent[i].Data.Fill((byte)i);
            sent[i].Prepend(8).Fill(0xEE); // an encapsulation moves the start: the mbuf must follow
        }

        nint[] raw = [.. sent.Select(p => p.Raw)];
        using (DpdkPort port = DpdkPort.Open(new PortSpec(0, "ring", 1, 256, 256, 10), pool, "net_ring5", 32))
        {
            Assert.Equal(16, port.TxQueue(0).TxBurst(sent));
            var got = new PacketRef[32];
            int n = port.RxQueue(0).RxBurst(got);
            Assert.Equal(16, n);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(raw[i], got[i].Raw); // the very buffer: nothing was copied
                Assert.Equal(64 + i + 8, got[i].Length);
                Assert.Equal(DpdkPool.MbufHeadroom - 8, got[i].Headroom);
                Assert.True(got[i].Data[..8].ToArray().All(b => b == 0xEE));
                Assert.True(got[i].Data[8..].ToArray().All(b => b == (byte)i));
                Assert.Equal(0, got[i].Header.Port);
            }

            PortCounters c = port.ReadCounters();
            Assert.Equal(16, c.TxPackets);
            Assert.Equal(16, c.RxPackets);
            Assert.Equal(c.TxBytes, c.RxBytes);
            pool.FreeBulk(got.AsSpan(0, n));
        }

        Assert.Equal(2048, pool.Available);
    }

    [SkippableFact]
    public void A_pool_needs_dpdks_headroom_and_a_dpdk_port_needs_a_dpdk_pool()
    {
        Skip.If(Unavailable is not null, Unavailable);
        DpdkException e = Assert.Throws<DpdkException>(() => DpdkPool.Create(256, headroom: 256));
        Assert.Contains("RTE_PKTMBUF_HEADROOM", e.Message);
        using var own = new PacketPool(64);
        e = Assert.Throws<DpdkException>(() => DpdkPort.Open(new PortSpec(0, "x", 1, 64, 64, 10), own, "net_ring5", 32));
        Assert.Contains("DpdkPool.Create", e.Message);
    }
}
