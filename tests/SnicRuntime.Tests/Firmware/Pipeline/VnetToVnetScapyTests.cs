using SnicRuntime.TestKit;
using System.Diagnostics;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>
/// The DASH VNET-to-VNET outbound case end to end, with packets made and checked by scapy
/// (tests/pipeline/vnet_to_vnet.py) and the output read back by tshark: nothing here is judged
/// by our own parser alone.
/// </summary>
[Trait("Requires", "scapy")]
public sealed class VnetToVnetScapyTests : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-v2v-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Script => Path.Combine(TestPaths.RepoRoot, "tests", "pipeline", "vnet_to_vnet.py");

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), $"{program} did not finish in 60 s");
        return (p.ExitCode, output);
    }

    private static bool HasScapy() => File.Exists(Python) && Run(Python, "-c", "import scapy").Code == 0;

    [SkippableFact]
    public void Scapy_packets_replayed_through_the_pipeline_come_out_as_DASH_expects()
    {
        Skip.IfNot(HasScapy(), "python3-scapy is not installed (apt-get install python3-scapy); ./test.sh installs it");
        var made = Run(Python, Script, "make", _dir);
        Assert.True(made.Code == 0, made.Output);

        var store = new PolicyStore(2);
        ApplyResult applied = store.Apply(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "examples", "plans", "vnet-to-vnet.json")));
        Assert.True(applied.Accepted, string.Join('\n', applied.Errors));
        ReplaySummary summary = PcapReplay.Run(store, PcapReader.ReadAll(Path.Combine(_dir, "in.pcap")), 0, 2, _dir);

        Assert.Equal(8, summary.PacketsIn);
        Assert.Equal(4, summary.PacketsOut);
        Assert.Equal(new Dictionary<string, long> { ["NotToVip"] = 1, ["RouteMiss"] = 1, ["MappingMiss"] = 1, ["NoFlow"] = 1 },
            summary.DropsByReason.ToDictionary(x => x.Key, x => x.Value));

        var checkedByScapy = Run(Python, Script, "check", _dir);
        Assert.True(checkedByScapy.Code == 0, "scapy found problems:\n" + checkedByScapy.Output);

        string? tshark = TestPaths.FindProgram("tshark");
        Skip.If(tshark is null, "tshark is not installed; ./test.sh installs it");
        var fields = Run(tshark!, "-r", Path.Combine(_dir, "port0.pcap"), "-o", "ip.check_checksum:TRUE", "-T", "fields",
            "-e", "ip.src", "-e", "ip.dst", "-e", "vxlan.vni", "-e", "eth.dst", "-e", "ip.checksum.status", "-E", "separator=;");
        Assert.True(fields.Code == 0, fields.Output);
        string[] lines = fields.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("Running as", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, lines.Length);
        foreach (string line in lines)
        {
            string[] f = line.Split(";");
            Assert.StartsWith("172.16.1.100", f[0], StringComparison.Ordinal);  // outer source: the VIP
            Assert.StartsWith("172.16.1.20", f[1], StringComparison.Ordinal);   // outer destination: the PA
            Assert.Equal("100", f[2]);
            Assert.EndsWith("00:dd:dd:dd:dd:dd", f[3], StringComparison.Ordinal); // inner destination MAC rewritten
            Assert.DoesNotContain("0", f[4].Split(','));                      // 1 = good checksum; 0 = bad
        }
    }
}
