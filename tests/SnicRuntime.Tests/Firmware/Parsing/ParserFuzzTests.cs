using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.Hal.Pcap;
using SnicRuntime.Hal;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Parsing;

/// <summary>
/// Millions of random and mutated frames through the parser: it must never throw, never report an
/// offset outside the frame, and give every rejected frame a reason.
/// </summary>
public class ParserFuzzTests
{
    [Fact]
    public void Random_and_mutated_frames_never_throw_and_every_drop_has_a_reason()
    {
        TestSeeds.Run(20261122, rng =>
        {
            var seeds = PcapReader.ReadAll(TestPaths.Captures("parser-valid.pcap")).Select(r => r.Data).ToList();
            seeds.AddRange(GeneratedFrames(2000));
            var byReason = new long[(int)DropReason.Count];
            long accepted = 0;
            const int Random = 1_000_000;
            const int Mutated = 2_000_000;
            byte[] buffer = new byte[1600];

            for (int i = 0; i < Random + Mutated; i++)
            {
                int length;
                if (i < Random)
                {
                    length = rng.Next(0, 200);
                    rng.NextBytes(buffer.AsSpan(0, length));
                    // Steer a share of random frames past the Ethernet check so deeper layers get fuzzed too.
                    if (length >= 14 && (i & 1) == 0)
                    {
                        buffer[12] = (i & 2) == 0 ? (byte)0x08 : (byte)0x86;
                        buffer[13] = (i & 2) == 0 ? (byte)0x00 : (byte)0xDD;
                    }
                }
                else
                {
                    byte[] seed = seeds[rng.Next(seeds.Count)];
                    length = seed.Length;
                    seed.CopyTo(buffer, 0);
                    int flips = rng.Next(1, 4);
                    for (int f = 0; f < flips; f++)
                    {
                        buffer[rng.Next(length)] ^= (byte)(1 << rng.Next(8));
                    }

                    if (rng.Next(4) == 0)
                    {
                        length = rng.Next(length + 1);
                    }
                }

                ReadOnlySpan<byte> frame = buffer.AsSpan(0, length);
                DropReason r = PacketParser.Parse(frame, out ParsedPacket p);
                Assert.InRange((int)r, 0, (int)DropReason.Count - 1);
                if (r == DropReason.None)
                {
                    accepted++;
                    Assert.True(p.L3End <= length && p.OuterL3 <= length && p.InnerL4 <= length, "offset past the frame");
                    if (p.HasL4)
                    {
                        Assert.True(p.L4 < p.L3End, "L4 offset outside the IP packet");
                    }
                }
                else
                {
                    byReason[(int)r]++;
                }
            }

            long dropped = byReason.Sum();
            Assert.Equal(Random + Mutated, accepted + dropped);
            Assert.Equal(0, byReason[0]);
            // The fuzzing reaches deep: many distinct reasons fire.
            Assert.True(byReason.Count(c => c > 0) >= 20, "only " + byReason.Count(c => c > 0) + " drop reasons were exercised");
            Assert.True(accepted > 100_000);
        });
    }

    private static IEnumerable<byte[]> GeneratedFrames(int count)
    {
        using var pool = new PacketPool(64);
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 97, Ipv6Share = 0.4, OverlayShare = 0.5 }, pool);
        var burst = new PacketRef[1];
        var list = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            gen.Fill(burst);
            list.Add(burst[0].Data.ToArray());
            pool.Free(burst[0]);
        }

        return list;
    }
}

/// <summary>The common-case pass must agree with the general parser on everything it accepts.</summary>
public class CommonCaseParserTests
{
    [Fact]
    public void Fast_and_general_parsers_agree_on_every_frame()
    {
        TestSeeds.Run(77, rng =>
        {
            using var pool = new SnicRuntime.Hal.PacketPool(64);
            var gen = new TrafficGenerator(new TrafficProfile { Flows = 500, Ipv6Share = 0.3, OverlayShare = 0.5 }, pool);
            var one = new SnicRuntime.Hal.PacketRef[1];
            int fastAccepted = 0;
            int vxlanAccepted = 0;
            for (int i = 0; i < 300_000; i++)
            {
                gen.Fill(one);
                byte[] frame = one[0].Data.ToArray();
                pool.Free(one[0]);
                if (i % 2 == 1)
                {
                    frame[rng.Next(frame.Length)] ^= (byte)(1 << rng.Next(8)); // and mutated copies
                    if (rng.Next(3) == 0)
                    {
                        Array.Resize(ref frame, rng.Next(frame.Length + 1));
                    }
                }

                DropReason general = PacketParser.ParseGeneral(frame, out ParsedPacket g);
                DropReason both = PacketParser.Parse(frame, out ParsedPacket p);
                Assert.Equal(general, both);
                Assert.Equal(g, p);
                vxlanAccepted += both == DropReason.None && p.Tunnel == TunnelKind.Vxlan ? 1 : 0;
                fastAccepted += frame.Length >= 54 && frame[12] == 8 && frame[13] == 0 && frame[14] == 0x45 && both == DropReason.None && !p.IsTunneled ? 1 : 0;
            }

            Assert.True(fastAccepted > 50_000, $"only {fastAccepted} frames took the common path");
            Assert.True(vxlanAccepted > 30_000, $"only {vxlanAccepted} VXLAN frames were parsed");
        });
    }
}
