using SnicRuntime.TestKit;
using System.Diagnostics;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Hal.Pcap;

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

    [SkippableFact]
    public void The_firmware_on_capture_file_ports_turns_scapys_dash_cases_into_what_DASH_expects()
    {
        const string python = "/usr/bin/python3";
        Skip.If(!File.Exists(python) || Process.Start(python, "-c \"import scapy\"") is { } probe && !probe.WaitForExit(30_000) | probe.ExitCode != 0,
            "scapy is not installed (apt-get install python3-scapy); ./test.sh installs it");
        string dir = Directory.CreateTempSubdirectory("snic-pcap-board-").FullName;
        try
        {
            string script = Path.Combine(TestPaths.RepoRoot, "tests", "pipeline", "vnet_to_vnet.py");
            Assert.Equal(0, Run(python, script, "make", dir).Code);
            string board = Path.Combine(dir, "pcap.json");
            File.WriteAllText(board, $$"""
                {
                  "id": "pcap-test", "vendor": "SnicRuntime", "model": "capture files as ports", "sources": ["test fixture"],
                  "cpu": { "architecture": "x86-64", "model": "host CPU", "dataplaneCores": 1 },
                  "memory": { "totalMiB": 512, "packetBuffers": 4096, "bufferDataRoom": 2048, "bufferHeadroom": 128 },
                  "ports": [ { "name": "uplink0", "speedGbps": 10 }, { "name": "host0", "speedGbps": 10 } ],
                  "queues": { "rxDepth": 512, "txDepth": 512, "burst": 32 },
                  "hal": { "driver": "pcap", "args": { "uplink0.rx": "{{dir}}/in.pcap", "uplink0.tx": "{{dir}}/port0.pcap", "host0.tx": "{{dir}}/port1.pcap" } },
                  "runtimeIdentifier": "linux-x64",
                  "supported": ["pcap"]
                }
                """);
            string dll = Path.Combine(TestPaths.RepoRoot, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
            var firmware = Run("dotnet", dll, "--board", board, "--plan", TestPaths.Plan("vnet-to-vnet.json"), "--seconds", "2");
            Assert.True(firmware.Code == 0, firmware.Output);
            var check = Run(python, script, "check", dir);
            Assert.True(check.Code == 0, check.Output + "\nfirmware:\n" + firmware.Output);
            Assert.Contains("ok:", check.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        return (p.ExitCode, output + err.GetAwaiter().GetResult());
    }
}
