using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Flows;

public class FlowTableTests
{
    [Fact]
    public void Layout_sizes_are_what_the_memory_budget_assumes()
    {
        Assert.Equal(16, Unsafe.SizeOf<FlowKeyV4>());
        Assert.Equal(40, Unsafe.SizeOf<FlowKeyV6>());
        Assert.Equal(32, Unsafe.SizeOf<FlowEntry>());
        using var v4 = new FlowTable<FlowKeyV4>(1_000_000);
        Assert.True(v4.BytesPerFlow <= 64, $"IPv4 flow costs {v4.BytesPerFlow:F1} bytes");
    }

    [Fact]
    public void Both_directions_of_a_flow_make_the_same_key()
    {
        FlowKeyV4 a = FlowKeyV4.Create(7, 0x0A000001, 0x0A000002, 1234, 80, 6, out bool fa);
        FlowKeyV4 b = FlowKeyV4.Create(7, 0x0A000002, 0x0A000001, 80, 1234, 6, out bool fb);
        Assert.Equal(a, b);
        Assert.NotEqual(fa, fb);
        Assert.NotEqual(a, FlowKeyV4.Create(8, 0x0A000001, 0x0A000002, 1234, 80, 6, out _));

        byte[] x = new byte[16];
        byte[] y = new byte[16];
        x[15] = 1;
        y[15] = 2;
        FlowKeyV6 c = FlowKeyV6.Create(1, x, y, 5, 6, 17, out bool fc);
        FlowKeyV6 d = FlowKeyV6.Create(1, y, x, 6, 5, 17, out bool fd);
        Assert.Equal(c, d);
        Assert.NotEqual(fc, fd);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(100_000)]
    public void Fills_to_capacity_then_counts_failures_without_throwing(int capacity)
    {
        using var t = new FlowTable<FlowKeyV4>(capacity);
        int inserted = 0;
        for (int i = 0; i < capacity * 2; i++)
        {
            FlowKeyV4 k = FlowKeyV4.Create(1, (uint)i, 0xC0A80001, (ushort)i, 443, 6, out _);
            if (t.Insert(k, new FlowEntry { Action = (uint)i }, out _) == InsertResult.Inserted)
            {
                inserted++;
            }
        }

        Assert.True(inserted >= capacity * 0.97, $"only {inserted} of {capacity} fit");
        Assert.True(inserted <= capacity);
        Assert.Equal(capacity * 2 - inserted, t.Counters.InsertFailedFull);
        Assert.Equal(inserted, t.Count);
        for (int i = 0; i < capacity * 2; i += 7)
        {
            FlowKeyV4 k = FlowKeyV4.Create(1, (uint)i, 0xC0A80001, (ushort)i, 443, 6, out _);
            int p = t.Lookup(k);
            if (p >= 0)
            {
                Assert.Equal((uint)i, t.Entry(p).Action);
            }
        }
    }

    [Fact]
    public void Aging_uses_each_class_timeout_and_counts_by_class()
    {
        var policy = new AgingPolicy { TickMs = 10, TcpHandshakeMs = 100, TcpEstablishedMs = 1000, TcpClosingMs = 50, UdpMs = 300, IcmpMs = 200 };
        using var t = new FlowTable<FlowKeyV4>(100, aging: policy);
        FlowKeyV4 K(int i) => FlowKeyV4.Create(0, (uint)i, 1, 1, 1, 6, out _);
        t.Insert(K(1), new FlowEntry { Tcp = TcpState.Handshake }, out _);
        t.Insert(K(2), new FlowEntry { Tcp = TcpState.Handshake }, out int est);
        t.Insert(K(3), new FlowEntry { Flags = FlowFlags.Udp }, out _);
        t.Insert(K(4), new FlowEntry { Flags = FlowFlags.Icmp }, out _);
        t.Insert(K(5), new FlowEntry { Tcp = TcpState.Handshake }, out int fin);
        t.Touch(est, 10, 0x10, 60);  // ACK: established
        t.Touch(fin, 10, 0x11, 60);  // FIN: closing (50 ms)
        Assert.Equal(TcpState.Established, t.Entry(est).Tcp);

        Assert.Equal(0, t.AdvanceAging(50));
        Assert.Equal(1, t.AdvanceAging(60));   // the closing one
        Assert.Equal(1, t.AdvanceAging(100));  // the handshake that never completed
        Assert.Equal(1, t.AdvanceAging(200));  // ICMP
        Assert.Equal(1, t.AdvanceAging(300));  // UDP
        t.Touch(est, 900, 0x10, 60);
        Assert.Equal(0, t.AdvanceAging(1500)); // established, seen at 900
        Assert.Equal(1, t.AdvanceAging(1900));
        Assert.Equal(0, t.Count);
        Assert.Equal(1, t.Counters.Aged[(int)FlowClass.TcpClosing]);
        Assert.Equal(1, t.Counters.Aged[(int)FlowClass.TcpHandshake]);
        Assert.Equal(1, t.Counters.Aged[(int)FlowClass.Icmp]);
        Assert.Equal(1, t.Counters.Aged[(int)FlowClass.Udp]);
        Assert.Equal(1, t.Counters.Aged[(int)FlowClass.TcpEstablished]);
    }

    [Fact]
    public void A_standby_table_does_not_age()
    {
        using var t = new FlowTable<FlowKeyV4>(10, aging: new AgingPolicy { TickMs = 1, UdpMs = 5 });
        t.Insert(FlowKeyV4.Create(0, 1, 2, 3, 4, 17, out _), new FlowEntry { Flags = FlowFlags.Udp }, out _);
        t.AgingEnabled = false;
        Assert.Equal(0, t.AdvanceAging(100));
        t.AgingEnabled = true;
        Assert.Equal(1, t.AdvanceAging(101));
    }

    [Fact]
    public void Clock_wrap_after_49_days_keeps_aging()
    {
        uint start = uint.MaxValue - 50;
        using var t = new FlowTable<FlowKeyV4>(10, aging: new AgingPolicy { TickMs = 1, UdpMs = 100 }, startMs: start);
        t.Insert(FlowKeyV4.Create(0, 1, 2, 3, 4, 17, out _), new FlowEntry { Flags = FlowFlags.Udp, LastSeenMs = start }, out _);
        Assert.Equal(0, t.AdvanceAging(start + 99));
        Assert.Equal(1, t.AdvanceAging(start + 100)); // wrapped past zero
    }

    [Fact]
    public void Readers_copy_whole_flows_while_the_owner_inserts_and_deletes()
    {
        using var t = new FlowTable<FlowKeyV4>(50_000);
        FlowKeyV4 K(int i) => FlowKeyV4.Create(3, (uint)i, (uint)i * 3, (ushort)i, 9, 17, out _);
        using var stop = new CancellationTokenSource();
        long torn = 0, reads = 0;
        var reader = new Thread(() =>
        {
            var buf = new FlowRecord<FlowKeyV4>[4096];
            while (!stop.IsCancellationRequested)
            {
                int next = 0;
                while (next >= 0)
                {
                    int n = t.ReadFlows(next, buf, out next);
                    for (int i = 0; i < n; i++)
                    {
                        // The writer stores Action = the key's low address: a torn copy breaks that.
                        if (buf[i].Entry.Action != buf[i].Key.AddressLow || buf[i].Entry.Packets != buf[i].Key.AddressLow * 2)
                        {
                            torn++;
                        }
                    }

                    reads += n;
                }
            }
        });
        reader.Start();
        TestSeeds.Run(1, rng =>
        {
            for (int round = 0; round < 300_000; round++)
            {
                int i = rng.Next(40_000);
                FlowKeyV4 k = K(i);
                int p = t.Lookup(k);
                if (p >= 0)
                {
                    t.Delete(p);
                }
                else
                {
                    var low = k.AddressLow;
                    t.Insert(k, new FlowEntry { Action = low, Packets = low * 2 }, out _);
                }
            }

            stop.Cancel();
            reader.Join();
            Assert.Equal(0, torn);
            Assert.True(reads > 0);
        });
    }
}

public class FlowTableV6Tests
{
    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(0x7u)]
    public void Ipv6_keys_insert_find_and_delete_like_a_set(uint hashMask)
    {
        var rng = new Random((int)hashMask);
        using var t = new FlowTable<FlowKeyV6>(3000, hashMask: hashMask);
        var model = new HashSet<FlowKeyV6>();
        var all = new List<FlowKeyV6>();
        byte[] a = new byte[16];
        byte[] b = new byte[16];
        for (int i = 0; i < 400; i++)
        {
            rng.NextBytes(a);
            rng.NextBytes(b);
            all.Add(FlowKeyV6.Create((uint)rng.Next(100), a, b, (ushort)rng.Next(), (ushort)rng.Next(), 6, out _));
        }

        for (int step = 0; step < 20_000; step++)
        {
            FlowKeyV6 k = all[rng.Next(all.Count)];
            switch (rng.Next(3))
            {
                case 0:
                    InsertResult r = t.Insert(k, default, out _);
                    Assert.Equal(model.Contains(k), r == InsertResult.Exists);
                    if (r == InsertResult.Inserted)
                    {
                        model.Add(k);
                    }

                    break;
                case 1:
                    Assert.Equal(model.Remove(k), t.Delete(k));
                    break;
                default:
                    Assert.Equal(model.Contains(k), t.Lookup(k) >= 0);
                    break;
            }
        }

        var keys = all.Take(64).ToArray();
        var positions = new int[64];
        Assert.Equal(keys.Count(model.Contains), t.LookupBulk(keys, positions));
        Assert.Equal(model.Count, t.Count);
    }
}

public class FlowKeyContractTests
{
    [Fact]
    public void Empty_keys_are_all_ones_as_the_table_fill_assumes()
    {
        FlowKeyV4 e4 = FlowKeyV4.Empty;
        FlowKeyV6 e6 = FlowKeyV6.Empty;
        Assert.All(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKeyV4>(in e4)).ToArray(), b => Assert.Equal(0xFF, b));
        Assert.All(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKeyV6>(in e6)).ToArray(), b => Assert.Equal(0xFF, b));
        // The highest usable scope cannot make an empty key.
        Assert.NotEqual(FlowKeyV4.Empty, FlowKeyV4.Create(FlowKeyV4.MaxScope, uint.MaxValue, uint.MaxValue, ushort.MaxValue, ushort.MaxValue, 255, out _));
    }
}
