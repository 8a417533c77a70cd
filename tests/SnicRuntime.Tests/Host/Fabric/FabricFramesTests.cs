using System.Diagnostics;
using SnicRuntime.Hal.Pcap;
using SnicRuntime.Management.Fabric;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Host.Fabric;

/// <summary>The fabric's frames, read back by our reader and by tshark (a reader nobody here wrote).</summary>
public sealed class FabricFramesTests
{
    private static readonly FabricEni s_eni = new("eni1", new FabricVm(0x00CCCCCCCC01, 0x0A010001, 0xAC100101), [new FabricVm(0x00DDDDDDDD01, 0x0A020001, 0xAC100201)], 100, 200, 0xAC100164);

    [Fact]
    public void A_written_step_carries_its_tag_back_and_odd_steps_come_from_the_remote_side()
    {
        var frame = new byte[2048];
        int n = FabricFrames.Write(frame, s_eni, s_eni.Remotes[0], 12345, 77, 3, 2);
        Assert.True(FabricFrames.TryReadTag(frame.AsSpan(0, n), out uint id, out int step, out int attempt));
        Assert.Equal((77u, 3, 2), (id, step, attempt));
        Assert.True(FabricFrames.TryOuterDestination(frame.AsSpan(0, n), out uint dst));
        Assert.Equal(s_eni.Vip, dst);
        Assert.False(FabricFrames.TryReadTag(frame.AsSpan(0, 40), out _, out _, out _));
        Assert.False(FabricFrames.TryReadTag(new byte[n], out _, out _, out _));
    }

    [SkippableFact]
    public void Tshark_reads_the_frames_as_vxlan_carrying_tcp_between_the_vm_and_the_remote_vm()
    {
        string? tshark = TestPaths.FindProgram("tshark");
        Skip.If(tshark is null, "tshark is not installed (./test.sh installs it)");
        string pcap = Path.Combine(Path.GetTempPath(), $"fabric-frames-{Environment.ProcessId}.pcap");
        try
        {
            var frames = new List<byte[]>();
            for (int step = 0; step < 3; step++)
            {
                var f = new byte[2048];
                int n = FabricFrames.Write(f, s_eni, s_eni.Remotes[0], 12345, 9, step, 0);
                frames.Add(f[..n]);
            }

            using (PcapWriter w = PcapWriter.Create(pcap))
            {
                frames.ForEach(f => w.Write(f));
            }

            var psi = new ProcessStartInfo(tshark!, ["-r", pcap, "-T", "fields", "-e", "vxlan.vni", "-e", "ip.src", "-e", "ip.dst", "-e", "tcp.flags.str", "-e", "tcp.checksum.status", "-o", "tcp.check_checksum:TRUE"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process p = Process.Start(psi)!;
            string[] lines = p.StandardOutput.ReadToEnd().Trim().Split('\n');
            p.WaitForExit();
            Assert.Equal(3, lines.Length);
            Assert.Equal("100\t172.16.1.1,10.1.0.1\t172.16.1.100,10.2.0.1", string.Join('\t', lines[0].Split('\t')[..3]));
            Assert.StartsWith("200\t172.16.2.1,10.2.0.1\t172.16.1.100,10.1.0.1", lines[1], StringComparison.Ordinal);
            Assert.Contains("S", lines[0].Split('\t')[3], StringComparison.Ordinal);
            Assert.All(lines, l => Assert.Equal("1", l.Split('\t')[4].Trim())); // checksum good
        }
        finally
        {
            File.Delete(pcap);
        }
    }
}
