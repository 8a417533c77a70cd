using System.Diagnostics;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Hal;

/// <summary>The capture-file port against captures nobody here wrote (scapy's) and a reader nobody here wrote (tshark).</summary>
public sealed class PcapPortTests
{
    [SkippableFact]
    public void Reads_a_scapy_capture_and_writes_one_tshark_reads_back_the_same()
    {
        string? tshark = TestPaths.FindProgram("tshark");
        Skip.If(tshark is null, "tshark is not installed (apt-get install tshark); ./test.sh installs it");
        string input = Path.Combine(TestPaths.RepoRoot, "tests", "captures", "parser-valid.pcap");
        string output = Path.Combine(Path.GetTempPath(), $"snic-pcapport-{Guid.NewGuid():N}.pcap");
        try
        {
            List<PcapRecord> expected = PcapReader.ReadAll(input);
            using var pool = new PacketPool(256);
            using (var inPort = new PcapPort(new PortSpec(0, "in", 1, 64, 64, 10), pool, input, null))
            using (var outPort = new PcapPort(new PortSpec(1, "out", 1, 64, 64, 10), pool, null, output))
            {
                var burst = new PacketRef[16];
                int n, total = 0;
                while ((n = inPort.RxQueue().RxBurst(burst)) > 0)
                {
                    for (int i = 0; i < n; i++)
                    {
                        Assert.Equal(expected[total + i].Data, burst[i].Data.ToArray());
                    }

                    Assert.Equal(n, outPort.TxQueue().TxBurst(burst.AsSpan(0, n)));
                    total += n;
                }

                Assert.Equal(expected.Count, total);
                Assert.Equal(pool.BufferCount, pool.Available);
            }

            var psi = new ProcessStartInfo(tshark!, $"-r {output} -T fields -e frame.len") { RedirectStandardOutput = true, RedirectStandardError = true };
            using Process p = Process.Start(psi)!;
            string[] lengths = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            p.WaitForExit(30_000);
            Assert.Equal(0, p.ExitCode);
            Assert.Equal(expected.Select(r => r.Data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), lengths);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
