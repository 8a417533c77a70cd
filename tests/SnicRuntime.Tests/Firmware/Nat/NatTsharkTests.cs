using SnicRuntime.TestKit;
using SnicRuntime.Tests.Firmware.Pipeline;
using System.Diagnostics;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Nat;

/// <summary>Static NAT output checked by tshark's own checksum validation (IPv4, TCP and UDP).</summary>
[Trait("Requires", "tshark")]
public sealed class NatTsharkTests
{
    [SkippableFact]
    public void Translated_packets_have_checksums_tshark_accepts()
    {
        string? tshark = TestPaths.FindProgram("tshark");
        Skip.If(tshark is null, "tshark is not installed (apt-get install tshark); ./test.sh installs it");
        using var h = new PipelineHarness(PipelineHarness.PlanText("full.json"));
        byte[] eni2 = Overlay.Mac("00:cc:cc:cc:cc:02");
        string path = Path.Combine(Path.GetTempPath(), $"snic-nat-{Environment.ProcessId}.pcap");
        try
        {
            using (PcapWriter w = PcapWriter.Create(path))
            {
                for (int i = 0; i < 20; i++)
                {
                    byte protocol = i % 2 == 0 ? SnicRuntime.Hal.Net.IpProtocols.Udp : SnicRuntime.Hal.Net.IpProtocols.Tcp;
                    w.Write(h.Forwarded(Overlay.FromVm("10.1.2.50", sport: (ushort)(4000 + i), dport: 80, protocol: protocol, src: "10.1.1.20", srcMac: eni2)));
                }
            }

            var psi = new ProcessStartInfo(tshark!) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                "-T", "fields", "-e", "ip.src", "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-E", "separator=;" })
            {
                psi.ArgumentList.Add(a);
            }

            using Process p = Process.Start(psi)!;
            string[] lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            p.WaitForExit(60_000);
            Assert.Equal(20, lines.Length);
            foreach (string line in lines)
            {
                string[] f = line.Split(";");
                Assert.Equal("172.16.1.100,10.1.100.20", f[0]); // outer VIP, inner translated source
                // Statuses: 1 = good, 0 = bad, 2 = not checked. Outer UDP (VXLAN) has no checksum.
                Assert.Equal("1,1", f[1]);
                Assert.DoesNotContain("0", string.Join(',', f[2], f[3]).Split(','));
                Assert.Contains("1", string.Join(',', f[2], f[3]).Split(','));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public void Nat46_output_has_IPv6_checksums_tshark_accepts()
    {
        string? tshark = TestPaths.FindProgram("tshark");
        Skip.If(tshark is null, "tshark is not installed (apt-get install tshark); ./test.sh installs it");
        using var h = new PipelineHarness(PipelineHarness.PlanText("full.json"));
        string path = Path.Combine(Path.GetTempPath(), $"snic-nat46-{Environment.ProcessId}.pcap");
        try
        {
            using (PcapWriter w = PcapWriter.Create(path))
            {
                for (int i = 0; i < 20; i++)
                {
                    byte protocol = i % 2 == 0 ? SnicRuntime.Hal.Net.IpProtocols.Udp : SnicRuntime.Hal.Net.IpProtocols.Tcp;
                    w.Write(h.Forwarded(Overlay.FromVm("10.9.0." + (i + 1), sport: (ushort)(7000 + i), dport: 443, protocol: protocol)));
                }
            }

            var psi = new ProcessStartInfo(tshark!) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { "-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                "-T", "fields", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-E", "separator=;" })
            {
                psi.ArgumentList.Add(a);
            }

            using Process p = Process.Start(psi)!;
            string[] lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            p.WaitForExit(60_000);
            Assert.Equal(20, lines.Length);
            for (int i = 0; i < lines.Length; i++)
            {
                string[] f = lines[i].Split(';');
                Assert.Equal("fd00:5::a01:10a", f[0]);             // fd00:5::10.1.1.10
                Assert.Equal($"fd00:6::a09:{i + 1:x}", f[1]);     // fd00:6::10.9.0.(i+1)
                string[] statuses = string.Join(',', f[2], f[3]).Split(',');
                Assert.DoesNotContain("0", statuses);
                Assert.Contains("1", statuses);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
