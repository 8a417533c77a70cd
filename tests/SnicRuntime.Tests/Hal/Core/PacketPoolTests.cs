using SnicRuntime.Hal;
using Xunit;

namespace SnicRuntime.Tests.Hal.Core;

public class PacketPoolTests
{
    [Fact]
    public void Buffers_are_cache_line_aligned_with_headroom_and_exhaustion_is_counted()
    {
        using var pool = new PacketPool(100, dataRoom: 2048, headroom: 128);
        Assert.Equal(64, System.Runtime.CompilerServices.Unsafe.SizeOf<PacketHeader>());
        Assert.Equal(0, pool.Stride % 64);
        var all = new PacketRef[100];
        Assert.Equal(100, pool.AllocBulk(all));
        Assert.All(all, p =>
        {
            Assert.Equal(0, p.Raw % 64);
            Assert.Equal(128, p.Headroom);
            Assert.Equal(0, p.Length);
            Assert.True(pool.Owns(p));
        });
        Assert.Equal(100, all.Select(p => p.Header.PoolIndex).Distinct().Count());
        Assert.False(pool.TryAlloc(out _));
        Assert.Equal(1, pool.AllocFailures);
        pool.FreeBulk(all);
        Assert.Equal(100, pool.Available);
    }

    [Fact]
    public void Prepend_and_trim_stay_inside_the_buffer()
    {
        using var pool = new PacketPool(4, dataRoom: 256, headroom: 64);
        Assert.True(pool.TryAlloc(out PacketRef p));
        Assert.True(p.SetLength(100));
        Assert.False(p.SetLength(257));
        p.Data.Fill(0xAB);
        Span<byte> front = p.Prepend(50);
        Assert.Equal(50, front.Length);
        Assert.Equal(150, p.Length);
        Assert.True(p.Prepend(15).Length == 0, "only 14 bytes of headroom remain");
        Assert.True(p.TrimFront(50));
        Assert.Equal(0xAB, p.Data[0]);
        Assert.False(p.TrimFront(101));
        pool.Free(p);
    }

    [Fact]
    public void Freeing_a_foreign_packet_is_refused()
    {
        using var a = new PacketPool(4);
        using var b = new PacketPool(4);
        Assert.True(a.TryAlloc(out PacketRef p));
        Assert.Throws<ArgumentException>(() => b.Free(p));
        a.Free(p);
    }

    [Fact]
    public void Concurrent_alloc_and_free_never_hand_out_a_buffer_twice()
    {
        using var pool = new PacketPool(1024);
        var owner = new int[1024];
        long violations = 0;
        void Churn()
        {
            var mine = new PacketRef[16];
            for (int round = 0; round < 100_000; round++)
            {
                int n = pool.AllocBulk(mine);
                for (int i = 0; i < n; i++)
                {
                    if (Interlocked.Exchange(ref owner[mine[i].Header.PoolIndex], 1) != 0)
                    {
                        Interlocked.Increment(ref violations);
                    }
                }

                for (int i = 0; i < n; i++)
                {
                    Volatile.Write(ref owner[mine[i].Header.PoolIndex], 0);
                }

                pool.FreeBulk(mine.AsSpan(0, n));
            }
        }

        var threads = Enumerable.Range(0, 3).Select(_ => new Thread(Churn)).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }

        Assert.Equal(0, violations);
        Assert.Equal(1024, pool.Available);
    }
}
