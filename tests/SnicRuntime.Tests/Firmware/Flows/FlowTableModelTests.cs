using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Flows;

/// <summary>
/// The flow table against a dictionary model: any sequence of insert, touch, delete, lookup and
/// aging gives the same answers. Run with the real hash and with a degenerate one that forces
/// every key into a handful of buckets.
/// </summary>
public class FlowTableModelTests
{
    private static readonly AgingPolicy s_aging = new()
    {
        TickMs = 1,
        WheelSlots = 64, // shorter than the timeouts, so flows go round the wheel
        TcpHandshakeMs = 50,
        TcpEstablishedMs = 200,
        TcpClosingMs = 20,
        UdpMs = 80,
        IcmpMs = 30,
    };

    private sealed record ModelFlow(uint LastSeen, TcpState Tcp, FlowFlags Kind, uint Packets);

    private static FlowKeyV4 KeyOf(int id) =>
        FlowKeyV4.Create((uint)(id % 3), 0x0A000000u + (uint)id, 0xAC100000u + (uint)(id * 7), (ushort)(1000 + id), 80, (byte)(id % 4 == 0 ? 17 : 6), out _);

    private static uint TimeoutOf(ModelFlow f) => f.Tcp switch
    {
        TcpState.Handshake => s_aging.TcpHandshakeMs,
        TcpState.Established => s_aging.TcpEstablishedMs,
        TcpState.Closing => s_aging.TcpClosingMs,
        _ => (f.Kind & FlowFlags.Icmp) != 0 ? s_aging.IcmpMs : s_aging.UdpMs,
    };

    /// <summary>Each op: kind (0-4), key id, and a time step.</summary>
    private static bool RunModel((byte Op, byte Key, byte Step)[] ops, uint hashMask, int capacity)
    {
        using var table = new FlowTable<FlowKeyV4>(capacity, aging: s_aging, hashMask: hashMask);
        var model = new Dictionary<FlowKeyV4, ModelFlow>();
        uint now = 0;
        foreach ((byte op, byte keyId, byte step) in ops ?? [])
        {
            now += (uint)(step % 8);
            FlowKeyV4 key = KeyOf(keyId % 48);
            switch (op % 5)
            {
                case 0: // insert
                {
                    bool udp = keyId % 4 == 0;
                    var entry = new FlowEntry
                    {
                        Action = (uint)(keyId % 48),
                        LastSeenMs = now,
                        Tcp = udp ? TcpState.None : TcpState.Handshake,
                        Flags = udp ? FlowFlags.Udp : FlowFlags.None,
                    };
                    InsertResult r = table.Insert(key, entry, out int pos);
                    if (model.ContainsKey(key))
                    {
                        if (r != InsertResult.Exists)
                        {
                            return false;
                        }
                    }
                    else if (r == InsertResult.Inserted)
                    {
                        model[key] = new ModelFlow(now, entry.Tcp, entry.Flags, 0);
                        if (!table.KeyAt(pos).Equals(key))
                        {
                            return false;
                        }
                    }
                    else if (r != InsertResult.Full || (hashMask == uint.MaxValue && model.Count < capacity / 2))
                    {
                        return false; // with a real hash the table must not fill up at half load
                    }

                    break;
                }

                case 1: // touch with a TCP flag pattern chosen by the step
                {
                    int pos = table.Lookup(key);
                    if ((pos >= 0) != model.TryGetValue(key, out ModelFlow? f))
                    {
                        return false;
                    }

                    if (f is null)
                    {
                        break;
                    }

                    byte flags = (step % 3) switch { 0 => 0x10, 1 => 0x11, _ => 0x02 };
                    table.Touch(pos, now, flags, 100);
                    TcpState tcp = f.Tcp;
                    if (tcp != TcpState.None)
                    {
                        if ((flags & 0x05) != 0)
                        {
                            tcp = TcpState.Closing;
                        }
                        else if (tcp == TcpState.Handshake && (flags & 0x12) == 0x10)
                        {
                            tcp = TcpState.Established;
                        }
                    }

                    model[key] = f with { LastSeen = now, Tcp = tcp, Packets = f.Packets + 1 };
                    break;
                }

                case 2: // delete
                    if (table.Delete(key) != model.Remove(key))
                    {
                        return false;
                    }

                    break;
                case 3: // age
                {
                    int aged = table.AdvanceAging(now);
                    var expired = model.Where(kv => now - kv.Value.LastSeen >= TimeoutOf(kv.Value)).Select(kv => kv.Key).ToList();
                    foreach (FlowKeyV4 k in expired)
                    {
                        model.Remove(k);
                    }

                    if (aged != expired.Count)
                    {
                        return false;
                    }

                    break;
                }

                default: // lookup and compare the entry
                {
                    int pos = table.Lookup(key);
                    bool known = model.TryGetValue(key, out ModelFlow? f);
                    if ((pos >= 0) != known)
                    {
                        return false;
                    }

                    if (f is not null)
                    {
                        ref FlowEntry e = ref table.Entry(pos);
                        if (e.LastSeenMs != f.LastSeen || e.Tcp != f.Tcp || e.Packets != f.Packets || e.Action != (keyId % 48))
                        {
                            return false;
                        }
                    }

                    break;
                }
            }

            if (table.Count != model.Count)
            {
                return false;
            }
        }

        // Bulk lookup agrees with single lookups and the model for every key id.
        var keys = Enumerable.Range(0, 48).Select(KeyOf).ToArray();
        var positions = new int[keys.Length];
        int hits = table.LookupBulk(keys, positions);
        return hits == model.Count && keys.Select((k, i) => (positions[i] >= 0) == model.ContainsKey(k) && positions[i] == table.Lookup(k)).All(x => x);
    }

    [Property(MaxTest = 300)]
    public bool Matches_a_dictionary_with_the_real_hash((byte, byte, byte)[] ops) => RunModel(ops, uint.MaxValue, 64);

    [Property(MaxTest = 300)]
    public bool Matches_a_dictionary_when_every_key_collides((byte, byte, byte)[] ops) => RunModel(ops, 0x3, 64);

    [Fact]
    public void Long_random_sequences_match_the_model()
    {
        TestSeeds.Run(11, rng =>
        {
            for (int run = 0; run < 50; run++)
            {
                var ops = Enumerable.Range(0, 2000).Select(_ => ((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256))).ToArray();
                Assert.True(RunModel(ops, uint.MaxValue, 40), $"run {run} diverged (real hash)");
                Assert.True(RunModel(ops, 0x1, 40), $"run {run} diverged (degenerate hash)");
            }
        });
    }
}
