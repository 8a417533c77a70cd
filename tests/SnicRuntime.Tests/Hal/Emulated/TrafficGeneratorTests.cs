using SnicRuntime.Firmware;
using SnicRuntime.TestKit;
using System.Diagnostics;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Hal.Emulated;

public class TrafficGeneratorTests
{
    private static List<byte[]> Generate(TrafficProfile profile, int count)
    {
        using var pool = new PacketPool(64);
        var gen = new TrafficGenerator(profile, pool);
        var one = new PacketRef[1];
        var frames = new List<byte[]>(count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(1, gen.Fill(one));
            frames.Add(one[0].Data.ToArray());
            pool.Free(one[0]);
        }

        return frames;
    }

    [Fact]
    public void Makes_the_requested_mix_of_flows_and_tcp_lifecycles()
    {
        var profile = new TrafficProfile { Flows = 500, DataPacketsPerFlow = 4, Seed = 9 };
        List<byte[]> frames = Generate(profile, 20_000);
        int tunneled = 0, v6 = 0, syn = 0, fin = 0, udp = 0, icmp = 0;
        var tuples = new HashSet<uint>();
        foreach (byte[] f in frames)
        {
            Assert.Equal(DropReason.None, PacketParser.Parse(f, out ParsedPacket p));
            tunneled += p.IsTunneled ? 1 : 0;
            v6 += p.IsIpv6 ? 1 : 0;
            syn += (p.TcpFlags & 0x12) == 0x02 ? 1 : 0;
            fin += (p.TcpFlags & 0x01) != 0 ? 1 : 0;
            udp += p.L4Protocol == 17 ? 1 : 0;
            icmp += p.L4Protocol is 1 or 58 ? 1 : 0;
            tuples.Add(p.FlowHash);
            if (p.IsTunneled)
            {
                Assert.Equal(profile.Vni, p.Vni);
            }
        }

        Assert.InRange(tunneled / (double)frames.Count, 0.35, 0.65);
        Assert.InRange(v6 / (double)frames.Count, 0.15, 0.35);
        Assert.True(syn > 500 && fin > 2 * 500, $"syn {syn} fin {fin}");
        Assert.True(udp > 0 && icmp > 0);
        Assert.True(tuples.Count > 1500, $"only {tuples.Count} distinct flows");
    }

    [Fact]
    public void Is_deterministic_for_a_seed()
    {
        var a = Generate(new TrafficProfile { Flows = 50, Seed = 4 }, 500);
        var b = Generate(new TrafficProfile { Flows = 50, Seed = 4 }, 500);
        var c = Generate(new TrafficProfile { Flows = 50, Seed = 5 }, 500);
        Assert.True(a.Zip(b).All(x => x.First.AsSpan().SequenceEqual(x.Second)));
        Assert.False(a.Zip(c).All(x => x.First.AsSpan().SequenceEqual(x.Second)));
    }

    [Fact]
    public void Rejects_a_bad_profile_naming_each_field()
    {
        var e = Assert.Throws<ArgumentException>(() => new TrafficGenerator(
            new TrafficProfile { Flows = 0, UdpShare = 2, PayloadBytes = 5000 }, new PacketPool(4)));
        Assert.Contains("flows", e.Message);
        Assert.Contains("udpShare", e.Message);
        Assert.Contains("payloadBytes", e.Message);
    }

    [SkippableFact]
    [Trait("Requires", "tshark")]
    public void Tshark_reads_generated_packets_as_well_formed_with_good_checksums()
    {
        string? tshark = TestPaths.FindProgram("tshark");
        Skip.If(tshark is null, "tshark is not installed (apt-get install tshark); the test script installs it");
        string path = Path.Combine(Path.GetTempPath(), $"snic-gen-{Environment.ProcessId}.pcap");
        const int Count = 3000;
        using (PcapWriter w = PcapWriter.Create(path))
        {
            foreach (byte[] f in Generate(new TrafficProfile { Flows = 300, Ipv6Share = 0.4 }, Count))
            {
                w.Write(f);
            }
        }

        try
        {
            // Ask tshark to validate every checksum it knows and print one line per bad packet.
            var psi = new ProcessStartInfo(tshark!)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string a in new[]
            {
                "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                "-o", "udp.check_checksum:TRUE", "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message",
                "-e", "vxlan.vni", "-e", "tcp.flags.str",
            })
            {
                psi.ArgumentList.Add(a);
            }

            using Process p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit(60_000);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(Count, lines.Length);
            string[] bad = lines.Where(l => l.Contains("Bad checksum", StringComparison.OrdinalIgnoreCase)
                || l.Contains("Malformed", StringComparison.OrdinalIgnoreCase)).ToArray();
            Assert.True(bad.Length == 0, "tshark found problems:\n" + string.Join('\n', bad.Take(10)));
            Assert.Contains(lines, l => l.Contains("\t1000\t", StringComparison.Ordinal)); // VXLAN VNI decoded
            Assert.Contains(lines, l => l.EndsWith("··········S·", StringComparison.Ordinal)); // a bare SYN
        }
        finally
        {
            File.Delete(path);
        }
    }
}
